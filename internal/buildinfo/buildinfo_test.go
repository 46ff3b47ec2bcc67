package buildinfo

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestStringWithoutLinkerValues(t *testing.T) {
	s := String("x")
	if !strings.HasPrefix(s, "x ") || !strings.Contains(s, " commit ") || !strings.HasSuffix(s, runtime.Version()) {
		t.Fatalf("String = %q", s)
	}
}

// TestLdflagsOverride: a release build sets the version and the commit
// with -ldflags -X, and --version shows them.
func TestLdflagsOverride(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin := filepath.Join(t.TempDir(), "sandbox-init")
	pkg := "github.com/acme/secretsbroker/internal/buildinfo"
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin,
		"-ldflags", "-X "+pkg+".Version=v9.8.7-test -X "+pkg+".Commit=c0ffee1", "../../cmd/sandbox-init")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("sandbox-init --version: %v", err)
	}
	if got, want := strings.TrimSpace(string(out)), "sandbox-init v9.8.7-test commit c0ffee1 "+runtime.Version(); got != want {
		t.Fatalf("--version = %q, want %q", got, want)
	}
}
