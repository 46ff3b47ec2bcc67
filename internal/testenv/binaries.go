package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acme/secretsbroker/internal/repo"
)

// getVaultTimeout bounds `scripts/get-vault.sh --no-build`, which only looks for a binary.
const getVaultTimeout = 30 * time.Second

// findVault returns the Vault binary: $VAULT_BIN, `vault` on PATH, or the cached build
// `scripts/get-vault.sh --no-build` finds. It never builds Vault (a cold build takes far
// longer than go test's default timeout): `make test` and `make vault` do that before any
// test runs. The error says what was tried and how to get Vault.
func findVault(t tb) (string, error) {
	t.Helper()
	if bin := os.Getenv("VAULT_BIN"); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			return "", fmt.Errorf("VAULT_BIN=%s: %w", bin, err)
		}
		return bin, nil
	}
	if bin, err := exec.LookPath("vault"); err == nil {
		return bin, nil
	}
	root, err := repo.Root()
	if err != nil {
		return "", fmt.Errorf("no VAULT_BIN, no vault on PATH, and %w", err)
	}
	script := filepath.Join(root, "scripts", "get-vault.sh")
	if _, err := os.Stat(script); err != nil {
		return "", fmt.Errorf("no VAULT_BIN, no vault on PATH, no %s", script)
	}
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout(t))
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", script, "--no-build")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s (%v)", strings.TrimPrefix(lastLine(stderr.String()), "get-vault: "), err)
	}
	bin := strings.TrimSpace(stdout.String())
	if bin == "" {
		return "", errors.New("scripts/get-vault.sh printed no path")
	}
	return bin, nil
}

// scriptTimeout is getVaultTimeout, shortened to end before the test binary's own deadline.
func scriptTimeout(t tb) time.Duration {
	d := getVaultTimeout
	if dt, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if end, ok := dt.Deadline(); ok {
			if left := time.Until(end) - 30*time.Second; left < d {
				d = max(left, 5*time.Second)
			}
		}
	}
	return d
}

// findRedis returns redis-server from PATH.
func findRedis() (string, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", errors.New("no redis-server on PATH (Debian: apt-get install redis-server)")
	}
	return bin, nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// FindVault returns the Vault server binary the way StartVault finds it ($VAULT_BIN, vault on
// PATH, the cached build), for tests that run Vault through a script of their own. It never
// builds Vault; the error says what was tried and how to get Vault.
func FindVault(t testing.TB) (string, error) {
	t.Helper()
	return findVault(t)
}
