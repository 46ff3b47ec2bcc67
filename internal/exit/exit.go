// Package exit is how the broker's commands (brokerd, brokerctl) end: a
// usage error is one line on stderr and exit code 2, any other error one
// line and exit code 1, and a Request an exit code with nothing more to say.
package exit

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// UsageError is a bad command line or a bad or missing setting: one line on
// stderr, exit code 2. Msg is shown as it is.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Usagef returns a *UsageError.
func Usagef(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// Request carries an exit code with nothing (more) to print: help was
// printed, or the command printed its own verdict.
type Request struct{ Code int }

func (e *Request) Error() string { return fmt.Sprintf("exit %d", e.Code) }

// Code prints err as one line "<prog>: <err>" on stderr and returns the
// process exit code: 0 for nil, a Request's code (printing nothing), 2 for
// a *UsageError in err's chain, 1 for anything else.
func Code(prog string, err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var req *Request
	if errors.As(err, &req) {
		return req.Code
	}
	fmt.Fprintln(stderr, prog+": "+OneLine(err.Error()))
	var ue *UsageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// OneLine collapses whitespace runs containing newlines into one space.
func OneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}
