package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// usageError is a bad or missing setting: one line on stderr, exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitCode prints err as one line and returns the process exit code.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	line := strings.ReplaceAll(err.Error(), "\n", " ")
	fmt.Fprintln(stderr, "brokerd: "+line)
	var ue *usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}
