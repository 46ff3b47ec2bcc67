package doccheck

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acme/secretsbroker/internal/repo"
)

// trackedFiles returns the repository's files (git ls-files; without git, every file
// outside dot-directories and bin/), relative to the root, and the root.
func trackedFiles(t *testing.T) (string, []string) {
	t.Helper()
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("git", "-C", root, "ls-files", "-z").Output(); err == nil && len(out) > 0 {
		var files []string
		for _, f := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
			if _, err := os.Stat(filepath.Join(root, f)); err == nil { // skip deleted, not yet committed
				files = append(files, f)
			}
		}
		return root, files
	}
	var files []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() && rel != "." && (strings.HasPrefix(d.Name(), ".") || rel == "bin") {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return root, files
}

// The design document is docs/design.md. The reference design the project started from
// lives outside the repository: no file may point there, nor to an upper-case design file,
// which does not exist here.
func TestNoReferenceToADesignOutsideTheRepository(t *testing.T) {
	root, files := trackedFiles(t)
	if _, err := os.Stat(filepath.Join(root, "docs", "design.md")); err != nil {
		t.Fatalf("docs/design.md: %v", err)
	}
	needles := [][]byte{[]byte("shared/" + "DESIGN"), []byte("DESIGN" + ".md")}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range bytes.Split(b, []byte("\n")) {
			for _, n := range needles {
				if bytes.Contains(line, n) {
					t.Errorf("%s:%d mentions %s (the design document is docs/design.md): %s", f, i+1, n, bytes.TrimSpace(line))
				}
			}
		}
	}
}
