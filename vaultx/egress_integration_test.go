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

// TestEgressHostsKeptAcrossVersions: egress_hosts live in the custom
// metadata; a hosts-only update writes no version, and a value update and a
// key rotation's rewrap (both rewrite the metadata) keep them.
func TestEgressHostsKeptAcrossVersions(t *testing.T) {
	b := sharedBroker(t)
	ctx := testCtx(t)
	u, id := randID("u"), broker.NewID()
	ct, err := b.c.Encrypt(ctx, u, []byte("v1"))
	if err != nil {
		t.Fatal(err)
	}
	hosts := []string{"api.openai.com", "*.example.com"}
	s, err := b.c.CreateSecret(ctx, broker.SecretWrite{UserID: u, SecretID: id, Name: "K", Ciphertext: ct, MaskedValue: "m", Fingerprint: "hmac:1", EgressHosts: hosts})
	if err != nil || strings.Join(s.EgressHosts, ",") != strings.Join(hosts, ",") {
		t.Fatalf("create: %+v, %v", s, err)
	}
	s, err = b.c.SetEgressHosts(ctx, u, id, []string{"a.example.com"})
	if err != nil || s.Version != 1 || strings.Join(s.EgressHosts, ",") != "a.example.com" {
		t.Fatalf("SetEgressHosts: %+v, %v", s, err)
	}
	s, err = b.c.UpdateSecret(ctx, broker.SecretWrite{UserID: u, SecretID: id, Ciphertext: ct, MaskedValue: "m2", Fingerprint: "hmac:2"}, 1)
	if err != nil || s.Version != 2 || strings.Join(s.EgressHosts, ",") != "a.example.com" {
		t.Fatalf("UpdateSecret without hosts: %+v, %v", s, err)
	}
	cur, err := b.c.ReadCurrent(ctx, u, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.c.WriteRewrapped(ctx, u, id, cur, ct); err != nil {
		t.Fatal(err)
	}
	g, err := b.c.GetSecret(ctx, u, id)
	if err != nil || g.Version != 3 || strings.Join(g.EgressHosts, ",") != "a.example.com" || g.Name != "K" {
		t.Fatalf("after rewrap: %+v, %v", g, err)
	}
	_, err = b.c.SetEgressHosts(ctx, u, broker.NewID(), []string{"a.example.com"})
	wantCode(t, err, broker.CodeNotFound)
}
