package main

import (
	"io"

	"github.com/acme/secretsbroker/internal/exit"
)

// usageError is a bad or missing setting: one line on stderr, exit code 2.
type usageError = exit.UsageError

func usagef(format string, args ...any) error { return exit.Usagef(format, args...) }

// exitCode prints err as one line and returns the process exit code.
func exitCode(err error, stderr io.Writer) int { return exit.Code("egressd", err, stderr) }
