package cpuprofile

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acme/secretsbroker/internal/exit"
)

// A path writes a profile, an empty one nothing, a bad one an error.
func TestStart(t *testing.T) {
	stop, err := Start("X_CPUPROFILE", "")
	if err != nil {
		t.Fatal(err)
	}
	stop()
	path := filepath.Join(t.TempDir(), "cpu.pprof")
	if stop, err = Start("X_CPUPROFILE", path); err != nil {
		t.Fatal(err)
	}
	stop()
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		t.Fatalf("profile %s: %v (size %v)", path, err, fi)
	}
	_, err = Start("X_CPUPROFILE", filepath.Join(t.TempDir(), "no", "such", "dir", "cpu.pprof"))
	if err == nil || exit.Code("test", err, io.Discard) != 2 || !strings.Contains(err.Error(), "X_CPUPROFILE") {
		t.Fatalf("a profile in a missing directory: %v, want a usage error naming the setting", err)
	}
}
