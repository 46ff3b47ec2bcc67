package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTokenFileSymlinkIsRefused: a BROKER_BOOTSTRAP_TOKEN_FILE that is a
// symlink (here to another one-line file holding a live token) is refused
// before it is read: exit 2, nothing sent to Vault (the token stays alive)
// and the file it points to is not emptied.
func TestTokenFileSymlinkIsRefused(t *testing.T) {
	f := sharedFixture(t)
	id := uniqueID(t)
	token, _ := f.mint(t, id, trickyEnv, "5m")
	dir := t.TempDir()
	target := filepath.Join(dir, "other-token")
	if err := os.WriteFile(target, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "token")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"VAULT_ADDR": f.v.Addr, "BROKER_SANDBOX_ID": id, "BROKER_BOOTSTRAP_TOKEN_FILE": link}
	r := runInit(t, vars, trickyEnv, "write", "--out", filepath.Join(t.TempDir(), "e"))
	assertNoLeak(t, r, token, trickyEnv)
	if r.code != exitUsage || !strings.Contains(r.stderr, "symlink") {
		t.Fatalf("exit %d, want 2 naming the symlink: %s", r.code, r.stderr)
	}
	if b, _ := os.ReadFile(target); strings.TrimSpace(string(b)) != token {
		t.Error("the file the symlink points to was emptied")
	}
	if !f.tokenAlive(t, token) {
		t.Error("the token behind the symlink was sent to Vault and spent")
	}
}

// TestOutIsCheckedBeforeUnwrap: --out naming an existing directory is a
// configuration error found before the token is spent (no exit 1 with the
// token gone, and so no false interception alarm on the retry).
func TestOutIsCheckedBeforeUnwrap(t *testing.T) {
	f := sharedFixture(t)
	id := uniqueID(t)
	token, _ := f.mint(t, id, trickyEnv, "5m")
	out := t.TempDir() // exists, a directory
	r := runInit(t, f.initEnv(id, token), trickyEnv, "write", "--out", out)
	if r.code != exitUsage {
		t.Fatalf("--out an existing directory: exit %d, want 2: %s", r.code, r.stderr)
	}
	if !f.tokenAlive(t, token) {
		t.Fatal("--out an existing directory spent the token")
	}
	// The retry with a good path then succeeds (no exit 4).
	good := filepath.Join(out, "e")
	if r := runInit(t, f.initEnv(id, token), trickyEnv, "write", "--out", good); r.code != 0 {
		t.Fatalf("retry: exit %d: %s", r.code, r.stderr)
	}
}

// TestFileChecksUnit: the two local checks without Vault.
func TestFileChecksUnit(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "real")
	if err := os.WriteFile(target, []byte("hvs.CAESIexample0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"VAULT_ADDR": "http://127.0.0.1:1", "BROKER_SANDBOX_ID": "sb", "BROKER_BOOTSTRAP_TOKEN_FILE": link}
	if _, err := loadConfig(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("token file symlink: %v, want refused", err)
	}
	env["BROKER_BOOTSTRAP_TOKEN_FILE"] = dir
	if _, err := loadConfig(func(k string) string { return env[k] }); err == nil {
		t.Error("token file naming a directory accepted")
	}
	env["BROKER_BOOTSTRAP_TOKEN_FILE"] = target
	if c, err := loadConfig(func(k string) string { return env[k] }); err != nil || c.token != "hvs.CAESIexample0123456789" {
		t.Errorf("regular token file: %v", err)
	}
	if p, err := createPending(dir); err == nil {
		p.abort()
		t.Error("--out naming an existing directory accepted")
	}
}
