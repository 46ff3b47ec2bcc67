package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acme/secretsbroker/internal/testenv"
)

// TestHostileRequestIDNeverLoggedOrAudited: a client's X-Request-Id that is
// not 1-64 of [A-Za-z0-9._-] is replaced: it reaches neither the broker's log
// nor Vault's audit log (where the request id is an audited header), and the
// answer names the id that was used instead. On a private Vault with a file
// audit device.
func TestHostileRequestIDNeverLoggedOrAudited(t *testing.T) {
	v := testenv.StartVault(t)
	auditPath := filepath.Join(t.TempDir(), "audit.log")
	cfg := setupVault(t, v)
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"setup", "--role-id-file", cfg.roleIDFile, "--secret-id-file", cfg.secretIDFile, "--audit-file", auditPath},
		mapEnv(map[string]string{"VAULT_ADDR": v.Addr, "VAULT_TOKEN": v.Token}), &out, &errb); err != nil {
		t.Fatalf("setup with an audit device: %v\n%s", err, errb.String())
	}
	b := startBroker(t, cfg, nil)
	c := newClient(t, b.URL, newAPIKey(t, v, "reqid-user-"+randHex(4)))
	hostile := []string{
		"forged:user:admin:granted",
		strings.Repeat("r", 65) + "-long",
		"ok-looking-id-with-a-space here",
	}
	// Creates: each one calls Vault (transit, KV), so each id is audited.
	create := func(id string) string {
		t.Helper()
		r := c.do("POST", "/api/v1/user/secrets", map[string]any{"name": "REQID_" + randHex(4), "value": "v-" + randHex(8)}, "X-Request-Id", id)
		if r.Status != 201 {
			t.Fatalf("create with request id %q: %d %s", id, r.Status, r.Body)
		}
		return r.Header.Get("X-Request-Id")
	}
	for _, id := range hostile {
		if got := create(id); got == id || got == "" {
			t.Errorf("hostile request id %q answered as %q", id, got)
		}
	}
	kept := "client-id-" + randHex(8)
	if got := create(kept); got != kept {
		t.Errorf("a safe request id was not kept: %q", got)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		audit, _ := os.ReadFile(auditPath)
		if bytes.Contains(audit, []byte(kept)) {
			for _, id := range hostile {
				if bytes.Contains(audit, []byte(id)) {
					t.Errorf("Vault's audit log holds the hostile request id %q", id)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the safe request id never reached Vault's audit log: the check proves nothing")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, id := range hostile {
		if strings.Contains(b.Logs.String(), id) {
			t.Errorf("the broker's log holds the hostile request id %q", id)
		}
	}
}
