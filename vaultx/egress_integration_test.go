package vaultx

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/layout"
)

// TestEgressRecordsAndEgressdPolicy: the broker writes and removes egress
// records (whose KV data is exactly the records' JSON) but cannot read them
// back; egressd's AppRole reads them and any user's current value (by
// design: it serves every user's sandboxes) and is refused everything else.
func TestEgressRecordsAndEgressdPolicy(t *testing.T) {
	v := env.Vault(t)
	ctx := testCtx(t)
	dir := t.TempDir()
	o := SetupOptions{EgressRoleIDFile: filepath.Join(dir, "egress-role-id"), EgressSecretIDFile: filepath.Join(dir, "egress-secret-id")}
	b := newBroker(t, v, o)
	// Setup is idempotent with the egress role too.
	o2 := o
	o2.RoleIDFile, o2.SecretIDFile = b.cfg.RoleIDFile, b.cfg.SecretIDFile
	if res, err := Setup(ctx, b.admin, o2); err != nil || len(res.Changes) != 0 || res.EgressRoleID == "" {
		t.Fatalf("second Setup: %+v, %v", res, err)
	}
	eg, err := New(ctx, Config{Addr: v.Addr, RoleIDFile: o.EgressRoleIDFile, SecretIDFile: o.EgressSecretIDFile}, testLogger(t))
	if err != nil {
		t.Fatalf("egressd login: %v", err)
	}
	defer eg.Close()

	// A secret of each of two users.
	users := []string{randID("u"), randID("u")}
	ids := make([]string, 2)
	for i, u := range users {
		ct, err := b.c.Encrypt(ctx, u, []byte("value-of-"+u))
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = broker.NewID()
		if _, err := b.c.CreateSecret(ctx, broker.SecretWrite{UserID: u, SecretID: ids[i], Name: "K", Ciphertext: ct, MaskedValue: "m", Fingerprint: "hmac:x"}); err != nil {
			t.Fatal(err)
		}
	}
	sbID := broker.NewID()
	p, _ := broker.NewPlaceholder("sk-p")
	hash := broker.TokenHash(p.Token)
	sb := broker.SandboxEgress{SandboxID: sbID, RuntimeID: broker.NewID(), UserID: users[0], CredentialHash: broker.CredentialHash("c"),
		Hosts: []string{"api.openai.com"}, ExpiresAt: time.Now().Add(time.Hour).UTC().Truncate(time.Second)}
	rec := broker.PlaceholderRecord{SandboxID: sbID, UserID: users[0], SecretID: ids[0], Prefix: "sk-p", Hosts: []string{"api.openai.com"}}
	if err := b.c.PutEgress(ctx, sb, map[string]broker.PlaceholderRecord{hash: rec}); err != nil {
		t.Fatalf("PutEgress: %v", err)
	}
	// The broker cannot read them back.
	_, err = b.c.EgressSandbox(ctx, sbID)
	wantCode(t, err, broker.CodeForbidden)

	// egressd reads both, exactly as written.
	gotSB, err := eg.EgressSandbox(ctx, sbID)
	if err != nil || gotSB.SandboxID != sb.SandboxID || gotSB.CredentialHash != sb.CredentialHash || !gotSB.ExpiresAt.Equal(sb.ExpiresAt) ||
		strings.Join(gotSB.Hosts, ",") != "api.openai.com" || gotSB.RuntimeID != sb.RuntimeID || gotSB.UserID != sb.UserID {
		t.Fatalf("EgressSandbox = %+v, %v", gotSB, err)
	}
	gotRec, err := eg.EgressPlaceholder(ctx, hash)
	if err != nil || gotRec.SecretID != rec.SecretID || gotRec.Prefix != rec.Prefix || gotRec.SandboxID != sbID || gotRec.UserID != users[0] {
		t.Fatalf("EgressPlaceholder = %+v, %v", gotRec, err)
	}
	_, err = eg.EgressPlaceholder(ctx, broker.TokenHash("other"))
	wantCode(t, err, broker.CodeNotFound)
	_, err = eg.EgressSandbox(ctx, broker.NewID())
	wantCode(t, err, broker.CodeNotFound)
	// The current value of any user's secret, in that user's context only.
	for i, u := range users {
		if val, err := eg.CurrentValue(ctx, u, ids[i]); err != nil || val != "value-of-"+u {
			t.Fatalf("CurrentValue(%s): %v", u, err)
		}
	}
	_, err = eg.CurrentValue(ctx, users[1], ids[0]) // another user's id: absent under that user
	wantCode(t, err, broker.CodeNotFound)

	// Everything else is refused: writes, metadata, listing, other areas, other transit ops, sys.
	for _, probe := range []request{
		{method: http.MethodPost, path: eg.dataPath(layout.EgressSandboxPath(sbID)), body: map[string]any{"data": map[string]any{"x": "y"}}},
		{method: http.MethodDelete, path: eg.metaPath(layout.EgressSandboxPath(sbID))},
		{method: "LIST", path: eg.metaPath("egress/placeholders/")},
		{method: http.MethodGet, path: eg.metaPath(layout.SecretPath(users[0], ids[0]))},
		{method: http.MethodPost, path: eg.dataPath(layout.SecretPath(users[0], ids[0])), body: map[string]any{"data": map[string]any{"x": "y"}}},
		{method: http.MethodGet, path: eg.dataPath(layout.NamePath(users[0], "K"))},
		{method: http.MethodGet, path: eg.dataPath(layout.SandboxPath(sbID))},
		{method: http.MethodGet, path: eg.dataPath(layout.APIKeyPath(strings.Repeat("a", 64)))},
		{method: http.MethodGet, path: eg.dataPath(layout.UserAPIKeyPath(users[0], strings.Repeat("a", 64)))},
		{method: http.MethodPost, path: eg.transitPath("encrypt"), body: map[string]any{"plaintext": "eA==", "context": "eA=="}},
		{method: http.MethodPost, path: eg.transitPath("rewrap"), body: map[string]any{"ciphertext": "vault:v1:x", "context": "eA=="}},
		{method: http.MethodPost, path: eg.transitPath("hmac") + "/sha2-256", body: map[string]any{"input": "eA=="}},
		{method: http.MethodGet, path: "sys/mounts"},
		{method: http.MethodGet, path: "sys/policies/acl/" + DefaultEgressPolicyName},
		{method: http.MethodPost, path: "auth/token/create", body: map[string]any{}},
		{method: http.MethodGet, path: "transit/keys/" + DefaultTransitKey},
	} {
		_, err := eg.do(ctx, probe)
		if !isPermissionDenied(err) {
			t.Errorf("egressd %s %s: %v, want 403", probe.method, probe.path, err)
		}
	}
	// The broker removes them.
	if err := b.c.DeleteEgress(ctx, sbID, []string{hash}); err != nil {
		t.Fatalf("DeleteEgress: %v", err)
	}
	_, err = eg.EgressSandbox(ctx, sbID)
	wantCode(t, err, broker.CodeNotFound)
	_, err = eg.EgressPlaceholder(ctx, hash)
	wantCode(t, err, broker.CodeNotFound)
	if err := b.c.DeleteEgress(ctx, sbID, []string{hash}); err != nil {
		t.Fatalf("DeleteEgress of absent records: %v", err)
	}
}
