package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// usageError is a bad command line or missing setting: one line on stderr,
// exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitCode prints err as one line on stderr and returns the exit code: 0 for
// nil, 2 for usage errors, 1 for anything else (API, Vault, network).
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var ex *exitRequest
	if errors.As(err, &ex) {
		return ex.code // help printed: nothing more to say
	}
	fmt.Fprintln(stderr, "brokerctl: "+oneLine(errorText(err)))
	var ue *usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// exitRequest is how kong's exit (after --help) reaches exitCode without
// terminating the process from inside run.
type exitRequest struct{ code int }

func (e *exitRequest) Error() string { return fmt.Sprintf("exit %d", e.code) }

// oneLine collapses whitespace runs containing newlines into one space.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}
