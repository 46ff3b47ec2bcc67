package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFileReplacesWholeWithMode(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "secret-id")
	if err := os.WriteFile(path, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o600, 0o400} {
		if err := WriteFile(path, []byte("new\n"), mode); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(path)
		if err != nil || st.Mode().Perm() != mode {
			t.Fatalf("mode %v, want %v (%v)", st.Mode().Perm(), mode, err)
		}
		if b, _ := os.ReadFile(path); string(b) != "new\n" {
			t.Fatalf("content %q", b)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

func TestAbortLeavesTargetAndNoTempFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "env")
	if err := os.WriteFile(path, []byte("keep"), 0o400); err != nil {
		t.Fatal(err)
	}
	p, err := Create(path, 0o400)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Write([]byte("partial")); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(p.tmp.Name()); st.Mode().Perm() != 0o400 {
		t.Fatalf("temporary file mode %v: wider than the target's", st.Mode().Perm())
	}
	p.Abort()
	p.Abort()
	if b, _ := os.ReadFile(path); string(b) != "keep" {
		t.Fatalf("target changed: %q", b)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
	if _, err := Create(filepath.Join(dir, "missing", "env"), 0o400); err == nil {
		t.Fatal("Create in a missing directory succeeded")
	}
}

func TestAbortAfterCommitKeepsTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "env")
	p, err := Create(path, 0o400)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = p.Write([]byte("x"))
	if err := p.Commit(); err != nil {
		t.Fatal(err)
	}
	p.Abort() // a deferred abort after the commit
	if b, err := os.ReadFile(path); err != nil || string(b) != "x" {
		t.Fatalf("after commit and abort: %q, %v", b, err)
	}
}
