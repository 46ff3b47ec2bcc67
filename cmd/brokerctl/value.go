package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/term"
)

// maxValueBytes bounds what is read as a value: the broker refuses bodies
// over 1 MiB anyway (its own value limit is lower and configurable).
const maxValueBytes = 1 << 20

// valueFlags say how a secret value is read.
type valueFlags struct {
	KeepNewline bool `name:"keep-newline" help:"Keep the trailing newline of a value piped on stdin (by default one trailing newline is stripped)."`
	// Extra catches a value typed on the command line by mistake, so that
	// the error does not repeat it (kong's "unexpected argument X" would).
	Extra []string `arg:"" optional:"" name:"value" help:"Refused: a value is never taken from the command line (stdin or the prompt only)."`
}

// check refuses extra arguments without repeating them.
func (f valueFlags) check() error {
	if len(f.Extra) > 0 {
		return usagef("unexpected extra argument (not shown): a value is never taken from the command line; pipe it on stdin or type it at the prompt")
	}
	return nil
}

// fder is what *os.File offers to tell a terminal apart.
type fder interface{ Fd() uintptr }

// readValue reads a secret value: from stdin when stdin is not a terminal,
// else from a no-echo prompt on stderr, which Ctrl-C (a.ctx ending) aborts
// at once with errPromptInterrupted. The value never comes from the
// command line and is never written anywhere. Errors are usage errors (empty
// value, too long, NUL byte) or I/O errors.
func (a *app) readValue(what string, f valueFlags) (string, error) {
	if err := f.check(); err != nil {
		return "", err
	}
	if fd, ok := a.stdin.(fder); ok && term.IsTerminal(int(fd.Fd())) {
		return a.promptValue(int(fd.Fd()), what)
	}
	return readPipedValue(a.stdin, f.KeepNewline)
}

// readPipedValue reads all of r; unless keepNewline, one trailing "\n" (or
// "\r\n") is stripped.
func readPipedValue(r io.Reader, keepNewline bool) (string, error) {
	if r == nil {
		return "", usagef("no value: pipe the value on stdin or run in a terminal to be prompted")
	}
	b, err := io.ReadAll(io.LimitReader(r, maxValueBytes+1))
	if err != nil {
		return "", fmt.Errorf("read value from stdin: %w", err)
	}
	if len(b) > maxValueBytes {
		return "", usagef("value on stdin is larger than 1 MiB")
	}
	if !keepNewline {
		if bytes.HasSuffix(b, []byte("\r\n")) {
			b = b[:len(b)-2]
		} else if bytes.HasSuffix(b, []byte("\n")) {
			b = b[:len(b)-1]
		}
	}
	return checkValue(string(b))
}

func (a *app) promptValue(fd int, what string) (string, error) {
	fmt.Fprintf(a.stderr, "Value for %s (input hidden): ", what)
	b, err := readHidden(a.ctx, fd)
	fmt.Fprintln(a.stderr)
	if errors.Is(err, errPromptInterrupted) {
		return "", err
	}
	if err != nil {
		return "", fmt.Errorf("read value from terminal: %w", err)
	}
	if len(b) > maxValueBytes {
		return "", usagef("value is larger than 1 MiB")
	}
	return checkValue(string(b))
}

func checkValue(v string) (string, error) {
	if v == "" {
		return "", usagef("the value is empty: pipe it on stdin or type it at the prompt")
	}
	if strings.IndexByte(v, 0) >= 0 {
		return "", usagef("the value contains a NUL byte")
	}
	return v, nil
}
