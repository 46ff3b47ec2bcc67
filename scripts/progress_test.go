package scripts

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// writeModule writes a small module main -> b -> a; nonce makes a's source new, so its
// packages are compiled rather than taken from the build cache.
func writeModule(t *testing.T, aSource string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":  "module progress\n\ngo 1.26\n",
		"a/a.go":  aSource,
		"b/b.go":  "package b\n\nimport \"progress/a\"\n\nconst Y = a.X + 1\n",
		"main.go": "package main\n\nimport (\n\t\"fmt\"\n\n\t\"progress/b\"\n)\n\nfunc main() { fmt.Println(b.Y) }\n",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func runProgress(t *testing.T, dir string, args ...string) (stderr string, err error) {
	t.Helper()
	script, err := filepath.Abs("build-progress.sh")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", append([]string{script}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PROGRESS_EVERY=1", "PROGRESS_PREFIX=get-vault", "GOFLAGS=", "GOWORK=off")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	return out.String(), err
}

// build-progress.sh (used by get-vault.sh for the Vault build) reports packages compiled
// out of `go list -deps`, ends with a summary, and produces the binary.
func TestBuildProgressCounts(t *testing.T) {
	dir := writeModule(t, fmt.Sprintf("package a\n\nconst X = %d\n", time.Now().UnixNano()))
	list, err := exec.Command("go", "-C", dir, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	total := len(strings.Fields(string(list)))
	out, err := runProgress(t, dir, "-o", "prog", ".")
	if err != nil {
		t.Fatalf("build-progress.sh: %v\n%s", err, out)
	}
	lines := regexp.MustCompile(`get-vault: compiled (\d+)/(\d+) packages \(\d+m\d\ds\)`).FindAllStringSubmatch(out, -1)
	if len(lines) < 3 { // at least progress, b and main are new
		t.Fatalf("want a progress line per package (PROGRESS_EVERY=1), got %d:\n%s", len(lines), out)
	}
	for i, l := range lines {
		n, _ := strconv.Atoi(l[1])
		m, _ := strconv.Atoi(l[2])
		if n != i+1 || m != total {
			t.Fatalf("line %d says %s/%s, want %d/%d:\n%s", i, l[1], l[2], i+1, total, out)
		}
	}
	if !strings.Contains(out, fmt.Sprintf("get-vault: compiling up to %d packages", total)) ||
		!strings.Contains(out, fmt.Sprintf("get-vault: compiled %d packages in", len(lines))) {
		t.Errorf("no opening or closing summary:\n%s", out)
	}
	got, err := exec.Command(filepath.Join(dir, "prog")).Output()
	if err != nil || len(strings.TrimSpace(string(got))) == 0 {
		t.Fatalf("built binary does not run: %v %q", err, got)
	}
}

// A compile error passes through unchanged and the script fails with go build's status.
func TestBuildProgressPassesErrorsThrough(t *testing.T) {
	dir := writeModule(t, "package a\n\nconst X = undefinedName\n")
	out, err := runProgress(t, dir, "-o", "prog", ".")
	var ee *exec.ExitError
	if err == nil || !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("want exit 1 from go build, got %v:\n%s", err, out)
	}
	if !strings.Contains(out, "a/a.go:3:11: undefined: undefinedName") || !strings.Contains(out, "# progress/a") {
		t.Errorf("compiler error not passed through:\n%s", out)
	}
	if !strings.Contains(out, "get-vault: go build failed after") {
		t.Errorf("no failure line:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "prog")); err == nil {
		t.Error("a binary was written despite the error")
	}
}
