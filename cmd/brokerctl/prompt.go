package main

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/term"
)

// errPromptInterrupted is what a hidden prompt returns when ctx ends (Ctrl-C
// or SIGTERM) before Enter: the command stops there, having sent nothing.
var errPromptInterrupted = errors.New("interrupted at the prompt: nothing was sent or stored")

// readHidden reads one line from the terminal fd without echo, and returns
// at once when ctx ends (term.ReadPassword alone would wait for Enter): the
// terminal's state (echo on) is restored and errPromptInterrupted returned.
// The abandoned read ends with the process, which exits right after.
func readHidden(ctx context.Context, fd int) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, errPromptInterrupted
	}
	state, err := term.GetState(fd)
	if err != nil {
		return nil, fmt.Errorf("read from terminal: %w", err)
	}
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := term.ReadPassword(fd)
		done <- result{b, err}
	}()
	select {
	case r := <-done:
		return r.b, r.err
	case <-ctx.Done():
		_ = term.Restore(fd, state)
		return nil, errPromptInterrupted
	}
}
