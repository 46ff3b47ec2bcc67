package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/acme/secretsbroker/internal/testenv"
)

// TestVaultAuditShowsNoOtherToken reads Vault's own audit log: even with
// VAULT_TOKEN (the root token) in sandbox-init's process environment, the
// lookup carries no token and the unwrap carries only the wrapping token
// (its accessor is what an operator matches against the broker's records).
func TestVaultAuditShowsNoOtherToken(t *testing.T) {
	v := testenv.StartVault(t)
	f := newFixture(t, v)
	auditLog := filepath.Join(t.TempDir(), "audit.log")
	err := f.root.Sys().EnableAuditWithOptionsWithContext(t.Context(), "file", &api.EnableAuditOptions{
		Type:    "file",
		Options: map[string]string{"file_path": auditLog, "hmac_accessor": "false"},
	})
	if err != nil {
		t.Fatalf("enable audit: %v", err)
	}
	self, err := f.root.Auth().Token().LookupSelfWithContext(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	rootAccessor, _ := self.Data["accessor"].(string)

	id := uniqueID(t)
	token, accessor := f.mint(t, id, trickyEnv, "5m")
	t.Setenv("VAULT_TOKEN", v.Token)
	t.Setenv("VAULT_NAMESPACE", "some-namespace")
	r := runInit(t, f.initEnv(id, token), trickyEnv, "write", "--out", filepath.Join(t.TempDir(), "e"))
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}

	type entry struct {
		Type    string                    `json:"type"`
		Auth    struct{ Accessor string } `json:"auth"`
		Request struct {
			Path                string                `json:"path"`
			ClientTokenAccessor string                `json:"client_token_accessor"`
			Namespace           struct{ Path string } `json:"namespace"`
		} `json:"request"`
	}
	fh, err := os.Open(auditLog)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	seen := map[string]int{}
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Type != "request" {
			continue
		}
		switch e.Request.Path {
		case "sys/wrapping/lookup":
			seen["lookup"]++
			if e.Request.ClientTokenAccessor != "" {
				t.Errorf("lookup carried a token (accessor %q)", e.Request.ClientTokenAccessor)
			}
		case "sys/wrapping/unwrap":
			seen["unwrap"]++
			if got := e.Request.ClientTokenAccessor; got != accessor || got == rootAccessor {
				t.Errorf("unwrap carried accessor %q, want the wrapping token's %q", got, accessor)
			}
		}
		if e.Request.Namespace.Path != "" {
			t.Errorf("%s sent in namespace %q", e.Request.Path, e.Request.Namespace.Path)
		}
	}
	if seen["lookup"] != 1 || seen["unwrap"] != 1 {
		t.Errorf("audit log: %d lookups and %d unwraps, want 1 and 1", seen["lookup"], seen["unwrap"])
	}
}
