package testenv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/acme/secretsbroker/internal/repo"
)

// built caches one build per command and test process; buildDirs are
// removed by RemoveBuilds (Shared.Close calls it).
var (
	built     sync.Map // command name -> func() (string, error)
	buildMu   sync.Mutex
	buildDirs []string
)

// RemoveBuilds deletes the binaries Command built. Call it from TestMain
// after m.Run (Shared.Close does).
func RemoveBuilds() {
	buildMu.Lock()
	defer buildMu.Unlock()
	for _, d := range buildDirs {
		os.RemoveAll(d)
	}
	buildDirs = nil
}

// Command builds the repository's ./cmd/<name> once per test process and
// returns the binary's path; tests that need the real binary (exec, signals,
// exit codes) run it.
func Command(t testing.TB, name string) string {
	t.Helper()
	f, _ := built.LoadOrStore(name, sync.OnceValues(func() (string, error) {
		root, err := repo.Root()
		if err != nil {
			return "", err
		}
		dir, err := os.MkdirTemp("", name+"-bin-")
		if err != nil {
			return "", err
		}
		buildMu.Lock()
		buildDirs = append(buildDirs, dir)
		buildMu.Unlock()
		bin := filepath.Join(dir, name)
		cmd := exec.Command("go", "build", "-o", bin, "./cmd/"+name)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go build ./cmd/%s: %v\n%s", name, err, out)
		}
		return bin, nil
	}))
	bin, err := f.(func() (string, error))()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// SyncBuffer is a bytes.Buffer safe for concurrent writers and readers, for
// capturing the logs of a process or an in-process server under test.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
