package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// result is what one brokerctl invocation produced.
type result struct {
	stdout, stderr string
	code           int
}

// runCLI runs brokerctl in-process with env as its environment and stdin as
// its (piped) standard input.
func runCLI(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	getenv := func(k string) string { return env[k] }
	err := run(ctx, args, getenv, strings.NewReader(stdin), &out, &errb)
	code := exitCode(err, &errb)
	return result{stdout: out.String(), stderr: errb.String(), code: code}
}

// oneErrorLine checks that stderr is exactly one "brokerctl: ..." line and
// returns it.
func oneErrorLine(t *testing.T, r result) string {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "brokerctl: ") || !strings.HasSuffix(r.stderr, "\n") {
		t.Fatalf("stderr is not one brokerctl: line: %q", r.stderr)
	}
	return lines[0]
}
