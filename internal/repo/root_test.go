package repo

import (
	"os"
	"path/filepath"
	"testing"
)

// TestRootFromNestedModule: run from cmd/brokerbench (a module of its own),
// Root is still the repository's root, not the nested module's directory.
func TestRootFromNestedModule(t *testing.T) {
	want, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(want, "cmd", "brokerbench", "go.mod")); err != nil {
		t.Fatalf("Root() = %s, which holds no cmd/brokerbench/go.mod: %v", want, err)
	}
	t.Chdir(filepath.Join(want, "cmd", "brokerbench"))
	got, err := Root()
	if err != nil || got != want {
		t.Fatalf("from cmd/brokerbench: Root() = %q, %v; want %q", got, err, want)
	}
}
