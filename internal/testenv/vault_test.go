package testenv_test

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/acme/secretsbroker/internal/testenv"
)

func TestVaultDev(t *testing.T) {
	v := testenv.StartVault(t)
	if !strings.HasPrefix(v.Addr, "http://127.0.0.1:") || v.Token == "" || len(v.UnsealKeys) != 1 {
		t.Fatalf("unexpected Vault: addr %q, token set %v, %d unseal keys", v.Addr, v.Token != "", len(v.UnsealKeys))
	}
	// Dev mode mounts KV v2 at secret/.
	mustVault(t, v, http.StatusOK, http.MethodPut, "/v1/secret/data/harness", map[string]any{"data": map[string]any{"k": "v1"}})
	if got, code := kvValue(t, v, "/v1/secret/data/harness"); got != "v1" {
		t.Fatalf("read back: %q (status %d)", got, code)
	}

	v.Seal(t)
	if code, _, _ := vaultReq(t, v, http.MethodGet, "/v1/sys/health", nil); code != http.StatusServiceUnavailable {
		t.Fatalf("health after Seal: %d, want 503", code)
	}
	if _, code := kvValue(t, v, "/v1/secret/data/harness"); code != http.StatusServiceUnavailable {
		t.Fatalf("read while sealed: status %d, want 503", code)
	}
	v.Unseal(t)
	if got, _ := kvValue(t, v, "/v1/secret/data/harness"); got != "v1" {
		t.Fatalf("read after Unseal: %q", got)
	}

	addr, token := v.Addr, v.Token
	v.Stop(t)
	if _, _, err := vaultReq(t, v, http.MethodGet, "/v1/sys/health", nil); err == nil {
		t.Fatal("Vault still answers after Stop")
	}
	v.Start(t)
	if v.Addr != addr || v.Token != token {
		t.Fatalf("restart changed address or token: %s -> %s", addr, v.Addr)
	}
	mustVault(t, v, http.StatusOK, http.MethodGet, "/v1/auth/token/lookup-self", nil)
	if _, code := kvValue(t, v, "/v1/secret/data/harness"); code != http.StatusNotFound {
		t.Fatalf("restarted dev server should be empty, read status %d", code)
	}
	v.Seal(t) // the new run's unseal key was captured
	v.Unseal(t)

	if b, err := os.ReadFile(v.LogPath()); err != nil || !strings.Contains(string(b), "Vault server started") {
		t.Fatalf("log %s lacks the server banner (err %v)", v.LogPath(), err)
	}
}

func TestVaultRaftKeepsDataAcrossRestart(t *testing.T) {
	v := testenv.StartVaultRaft(t)
	mustVault(t, v, http.StatusNoContent, http.MethodPost, "/v1/sys/mounts/kv",
		map[string]any{"type": "kv", "options": map[string]string{"version": "2"}})
	mustVault(t, v, http.StatusOK, http.MethodPut, "/v1/kv/data/harness", map[string]any{"data": map[string]any{"k": "persisted"}})

	addr := v.Addr
	v.Stop(t)
	v.Start(t)
	if v.Addr != addr {
		t.Fatalf("restart changed address: %s -> %s", addr, v.Addr)
	}
	if got, code := kvValue(t, v, "/v1/kv/data/harness"); got != "persisted" {
		t.Fatalf("after restart: %q (status %d)", got, code)
	}

	v.Seal(t)
	if _, code := kvValue(t, v, "/v1/kv/data/harness"); code != http.StatusServiceUnavailable {
		t.Fatalf("read while sealed: status %d, want 503", code)
	}
	v.Unseal(t)
	if got, _ := kvValue(t, v, "/v1/kv/data/harness"); got != "persisted" {
		t.Fatalf("after unseal: %q", got)
	}
}

func TestTwoVaultsAreIndependent(t *testing.T) {
	a, b := testenv.StartVault(t), testenv.StartVault(t)
	if a.Addr == b.Addr || a.Token == b.Token {
		t.Fatalf("two servers share address or token: %s %s", a.Addr, b.Addr)
	}
	if code, _, _ := vaultReq(t, &testenv.Vault{Addr: b.Addr, Token: a.Token}, http.MethodGet, "/v1/auth/token/lookup-self", nil); code != http.StatusForbidden {
		t.Fatalf("token of one server accepted by the other: status %d", code)
	}
}
