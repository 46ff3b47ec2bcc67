package main

import (
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/acme/secretsbroker/vaultx"
)

// brokerToken logs in with the AppRole credentials `brokerd setup` wrote,
// exactly as brokerd does, and returns a client holding that token.
func brokerToken(t *testing.T, c configured) *vaultapi.Client {
	t.Helper()
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	vc := rootVault(t, c.vault)
	vc.ClearToken()
	sec, err := vc.Logical().Write("auth/approle/login", map[string]any{"role_id": read(c.roleIDFile), "secret_id": read(c.secretIDFile)})
	if err != nil || sec == nil || sec.Auth == nil {
		t.Fatalf("approle login: %v", err)
	}
	vc.SetToken(sec.Auth.ClientToken)
	return vc
}

// TestSecurityBrokerVaultTokenScope: the broker's own Vault token can do
// what the broker needs under its mounts and nothing else: every read or
// write of sys/, of other mounts, of KV paths outside users/, sandboxes/ and
// apikeys/ (but the read of its mount's config, which readiness uses), of
// other transit keys, of token creation and of its own AppRole answers 403
// (asserted one by one).
func TestSecurityBrokerVaultTokenScope(t *testing.T) {
	v := shared.Vault(t)
	c := setupVault(t, v)
	bt := brokerToken(t, c)
	kv, tr, key := vaultx.DefaultKVMount, vaultx.DefaultTransitMount, vaultx.DefaultTransitKey

	// What it needs works (so the 403s below are about scope, not a dead token).
	user := "scope-" + randHex(4)
	if _, err := bt.Logical().Write(kv+"/data/users/"+user+"/names/PROBE", map[string]any{"data": map[string]any{"secret_id": "x"}}); err != nil {
		t.Fatalf("the broker's token cannot write under users/: %v", err)
	}
	if _, err := bt.Logical().Write(tr+"/encrypt/"+key, map[string]any{"plaintext": "aGk=", "context": "dXNlcg=="}); err != nil {
		t.Fatalf("the broker's token cannot encrypt: %v", err)
	}
	// Readiness (vault_layout) reads the KV mount's config: settings only.
	if _, err := bt.Logical().Read(kv + "/config"); err != nil {
		t.Fatalf("the broker's token cannot read %s/config: %v", kv, err)
	}

	type call struct{ method, path string }
	denied := []call{
		{"GET", "sys/mounts"},
		{"GET", "sys/auth"},
		{"GET", "sys/audit"},
		{"GET", "sys/policies/acl"},
		{"GET", "sys/policies/acl/secrets-broker"},
		{"PUT", "sys/policies/acl/secrets-broker"},
		{"GET", "sys/config/auditing/request-headers"},
		{"PUT", "sys/seal"},
		{"PUT", "sys/raw/core"},
		{"LIST", "sys/leases/lookup/auth/approle/login"},
		{"PUT", "sys/leases/revoke-prefix/auth"},
		{"PUT", "sys/wrapping/wrap"},
		{"PUT", "sys/tools/hash"},
		{"GET", "sys/internal/counters/activity"},
		{"PUT", "auth/token/create"},
		{"PUT", "auth/token/create-orphan"},
		{"LIST", "auth/token/accessors"},
		{"PUT", "auth/token/lookup"},
		{"GET", "auth/approle/role/secrets-broker"},
		{"PUT", "auth/approle/role/secrets-broker/secret-id"},
		{"GET", "auth/approle/role/secrets-broker/role-id"},
		{"GET", "secret/data/anything"},
		{"GET", "cubbyhole-other/anything"},
		{"GET", kv + "/data/other/thing"},
		{"PUT", kv + "/data/other/thing"},
		{"PUT", kv + "/config"},
		{"LIST", kv + "/metadata/"},
		{"DELETE", kv + "/metadata/users"},
		{"GET", tr + "/keys/" + key},
		{"PUT", tr + "/keys/" + key + "/config"},
		{"PUT", tr + "/keys/" + key + "/rotate"},
		{"GET", tr + "/export/encryption-key/" + key},
		{"PUT", tr + "/encrypt/another-key"},
		{"PUT", tr + "/decrypt/another-key"},
		{"PUT", tr + "/keys/another-key"},
		{"PUT", tr + "/datakey/plaintext/" + key},
	}
	for _, d := range denied {
		r := bt.NewRequest(d.method, "/v1/"+d.path)
		if d.method == "PUT" {
			if err := r.SetJSONBody(map[string]any{"x": "y"}); err != nil {
				t.Fatal(err)
			}
		}
		res, err := bt.RawRequest(r)
		if res != nil {
			res.Body.Close()
		}
		var re *vaultapi.ResponseError
		switch {
		case errors.As(err, &re) && re.StatusCode == http.StatusForbidden:
		case errors.As(err, &re):
			t.Errorf("%s %s: status %d, want 403", d.method, d.path, re.StatusCode)
		case err != nil:
			t.Errorf("%s %s: %v, want 403", d.method, d.path, err)
		default:
			t.Errorf("%s %s: status %d, want 403 (the broker's token may do it)", d.method, d.path, res.StatusCode)
		}
	}
}
