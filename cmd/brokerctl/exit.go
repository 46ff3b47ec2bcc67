package main

import (
	"io"

	"github.com/acme/secretsbroker/internal/exit"
)

// usageError is a bad command line or missing setting: one line on stderr,
// exit code 2.
type usageError = exit.UsageError

// exitRequest is how kong's exit (after --help) reaches exitCode without
// terminating the process from inside run; also a verdict already printed.
type exitRequest = exit.Request

func usagef(format string, args ...any) error { return exit.Usagef(format, args...) }

// oneLine collapses whitespace runs containing newlines into one space.
func oneLine(s string) string { return exit.OneLine(s) }

// exitCode prints err as one line on stderr and returns the exit code: 0 for
// nil, 2 for usage errors, 1 for anything else (API, Vault, network). A
// timed-out call says which setting bounds it (errorText).
func exitCode(err error, stderr io.Writer) int {
	if err != nil {
		if text := errorText(err); text != err.Error() {
			err = &hinted{error: err, text: text}
		}
	}
	return exit.Code("brokerctl", err, stderr)
}

// hinted is err shown as text, for exit.Code.
type hinted struct {
	error
	text string
}

func (h *hinted) Error() string { return h.text }
func (h *hinted) Unwrap() error { return h.error }
