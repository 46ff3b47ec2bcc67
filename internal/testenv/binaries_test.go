package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Without VAULT_BIN, vault on PATH or a cached build, findVault gives up at once with a
// message saying how to get Vault; it never starts a build under go test's timeout.
func TestFindVaultNeverBuilds(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("VAULT_BIN", "")
	t.Setenv("BROKER_CACHE_DIR", cache)
	path := "/usr/bin:/bin" // bash and coreutils, no vault; go stays, so a build could start
	if gobin, err := exec.LookPath("go"); err == nil {
		path = filepath.Dir(gobin) + ":" + path
	}
	t.Setenv("PATH", path)
	start := time.Now()
	bin, err := findVault(t)
	if err == nil {
		t.Fatalf("found %s in an empty cache", bin)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("findVault took %s: it must not build Vault", d)
	}
	if msg := err.Error(); !strings.Contains(msg, "make vault") || !strings.Contains(msg, cache) {
		t.Errorf("message does not say where it looked and how to get Vault: %q", msg)
	}
	if ents, _ := os.ReadDir(cache); len(ents) != 0 {
		t.Errorf("findVault left %d entries in the cache (%s...): it started a build", len(ents), ents[0].Name())
	}
}
