package main

import (
	"bytes"
	"context"
	"runtime"
	"strings"
	"testing"
)

// TestVersion: brokerd --version prints one line naming the binary, the
// version, the commit and the Go version, and exits 0.
func TestVersion(t *testing.T) {
	for _, arg := range []string{"--version", "-version", "version"} {
		var out, errb bytes.Buffer
		err := run(context.Background(), []string{arg}, mapEnv(nil), &out, &errb)
		if code := exitCode(err, &errb); code != 0 {
			t.Fatalf("%s: exit %d, stderr %q", arg, code, errb.String())
		}
		line := out.String()
		if strings.Count(line, "\n") != 1 || !strings.HasPrefix(line, "brokerd ") || !strings.Contains(line, " commit ") || !strings.Contains(line, runtime.Version()) {
			t.Fatalf("%s: %q, want one line: brokerd VERSION commit COMMIT GOVERSION", arg, line)
		}
	}
}
