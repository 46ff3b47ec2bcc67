package deploy

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/acme/secretsbroker/internal/testenv"
)

// vaultHealth returns the status of Vault's sys/health (200 unsealed, 503 sealed).
func vaultHealth(v *testenv.Vault) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, v.Addr+"/v1/sys/health", nil)
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// deploy/vault-init.sh --watch (the vault-unseal service of docker-compose.yml), against a
// real Vault with Raft storage: each time Vault is sealed, as after a restart of its
// container, the script unseals it again; SIGTERM (docker stop) ends it with status 0; the
// unseal key never shows in its output.
func TestUnsealWatchUnsealsAfterEverySeal(t *testing.T) {
	v := testenv.StartVaultRaft(t)
	bin, err := testenv.FindVault(t)
	if err != nil {
		t.Fatal(err)
	}
	keys, path := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(keys, "unseal-key"), []byte(v.UnsealKeys[0]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(keys, "root-token"), []byte(v.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(bin, filepath.Join(path, "vault")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "vault-init.sh", "--watch")
	cmd.Env = []string{"PATH=" + path + ":" + os.Getenv("PATH"), "HOME=" + t.TempDir(),
		"VAULT_ADDR=" + v.Addr, "KEYS_DIR=" + keys, "UNSEAL_INTERVAL=1"}
	var out testenv.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})

	await := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 20 s\nscript output:\n%s", what, out.String())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	await("the script watches", func() bool { return strings.Contains(out.String(), "watching") })
	for i := range 2 {
		v.Seal(t)
		if got := vaultHealth(v); got != http.StatusServiceUnavailable {
			t.Fatalf("seal %d: sys/health %d, want 503 (sealed)", i+1, got)
		}
		await("Vault unsealed again", func() bool { return vaultHealth(v) == http.StatusOK })
	}
	if n := strings.Count(out.String(), "unsealing"); n != 2 {
		t.Errorf("the script unsealed %d times, want 2:\n%s", n, out.String())
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		done <- err
		if err != nil {
			t.Errorf("after SIGTERM: %v, want exit 0", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the script ignored SIGTERM: docker stop would have to kill it")
	}
	if strings.Contains(out.String(), v.UnsealKeys[0]) || strings.Contains(out.String(), v.Token) {
		t.Error("the script printed the unseal key or the root token")
	}
}
