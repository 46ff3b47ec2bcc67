//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/acme/secretsbroker/internal/testenv"
)

// TestPromptInterruptAbortsAtOnce: with stdin a terminal (a pty), `secrets
// set` prompts without echo; when its context ends (what Ctrl-C does
// through main's signal.NotifyContext) while a partial value is typed and
// Enter never comes, it returns at once, sends nothing to the broker and
// leaves the terminal echoing again.
func TestPromptInterruptAbortsAtOnce(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	t.Cleanup(func() { _ = ptmx.Close(); _ = tty.Close() })
	f := newFakeBroker(t)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out bytes.Buffer
	stderr := &testenv.SyncBuffer{}
	done := make(chan error, 1)
	env := f.env()
	go func() {
		done <- run(ctx, []string{"secrets", "set", "PROMPT_TEST"}, func(k string) string { return env[k] }, tty, &out, stderr)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stderr.String(), "input hidden") {
		if time.Now().After(deadline) {
			t.Fatalf("no prompt; stderr %q", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if echoOn(t, tty) {
		t.Fatal("the prompt echoes what is typed")
	}
	if _, err := ptmx.WriteString("sk-partial-value-no-enter"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)

	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if took := time.Since(start); took > time.Second {
			t.Fatalf("returned %s after the interrupt, want at once", took)
		}
		if !errors.Is(err, errPromptInterrupted) {
			t.Fatalf("run = %v, want the prompt interrupted", err)
		}
		var line bytes.Buffer
		if code := exitCode(err, &line); code != 1 || strings.Contains(line.String(), "sk-partial") {
			t.Fatalf("exit %d, %q", code, line.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("still waiting for Enter 5s after the interrupt")
	}
	if reqs := f.requests(); len(reqs) != 0 {
		t.Fatalf("an interrupted prompt sent %d requests, first %s %s", len(reqs), reqs[0].method, reqs[0].path)
	}
	if !echoOn(t, tty) {
		t.Fatal("terminal echo not restored after the interrupt")
	}
	if strings.Contains(out.String()+stderr.String(), "sk-partial") {
		t.Fatal("the typed value appears in the output")
	}
}

func echoOn(t *testing.T, tty interface{ Fd() uintptr }) bool {
	t.Helper()
	tios, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return tios.Lflag&unix.ECHO != 0
}
