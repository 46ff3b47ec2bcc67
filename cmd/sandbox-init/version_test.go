package main

import (
	"runtime"
	"strings"
	"testing"
)

// TestVersion: sandbox-init --version prints one line naming the binary,
// the version, the commit and the Go version, and exits 0 without reading
// any setting.
func TestVersion(t *testing.T) {
	r := runInit(t, nil, nil, "--version")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if strings.Count(r.stdout, "\n") != 1 || !strings.HasPrefix(r.stdout, "sandbox-init ") || !strings.Contains(r.stdout, " commit ") || !strings.Contains(r.stdout, runtime.Version()) {
		t.Fatalf("%q, want one line: sandbox-init VERSION commit COMMIT GOVERSION", r.stdout)
	}
}
