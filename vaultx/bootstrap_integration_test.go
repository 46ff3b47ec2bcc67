package vaultx

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/acme/secretsbroker/broker"
)

type apiTokenCreate = api.TokenCreateRequest

// sandboxesLeft lists what is under sandboxes/ with the admin token.
func sandboxesLeft(t *testing.T, b *testBroker) []any {
	t.Helper()
	s, err := b.admin.Logical().ListWithContext(testCtx(t), b.c.cfg.KVMount+"/metadata/sandboxes")
	if err != nil {
		t.Fatal(err)
	}
	if s == nil {
		return nil
	}
	keys, _ := s.Data["keys"].([]any)
	return keys
}

func TestWrapUnwrapRevoke(t *testing.T) {
	b := sharedBroker(t)
	c, ctx := b.c, testCtx(t)
	sid := randID("sb-")
	envVars := map[string]string{"OPENAI_API_KEY": "sk-abc", "WEIRD": "a'b\"c $HOME \\n\nline2"}
	ctx = broker.WithAudit(ctx, broker.Audit{UserID: "alice", SandboxID: sid})

	before := c.RoundTrips()
	w, err := c.Wrap(ctx, sid, envVars, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	trips := c.RoundTrips() - before
	t.Logf("Wrap: %d round trips", trips)
	if trips != 3 {
		t.Fatalf("Wrap took %d round trips, want 3", trips)
	}
	if w.CreationPath != "broker/data/sandboxes/"+sid || w.CreationPath != c.CreationPath(sid) || w.Accessor == "" {
		t.Fatalf("wrapped: creation path %q accessor %q", w.CreationPath, w.Accessor)
	}
	if d := time.Until(w.ExpiresAt); d < time.Minute || d > 2*time.Minute+5*time.Second {
		t.Fatalf("expires in %v", d)
	}
	if left := sandboxesLeft(t, b); len(left) != 0 {
		t.Fatalf("left under sandboxes/: %v", left)
	}

	anon := anonClient(t, b.v)
	look, err := anon.Logical().WriteWithContext(ctx, "sys/wrapping/lookup", map[string]any{"token": w.Token})
	if err != nil || look.Data["creation_path"] != c.CreationPath(sid) {
		t.Fatalf("lookup: %v, %v", look, err)
	}
	sec, err := anon.Logical().UnwrapWithContext(ctx, w.Token)
	if err != nil {
		t.Fatalf("unwrap: %v", err)
	}
	got, _ := sec.Data["data"].(map[string]any)
	if len(got) != len(envVars) {
		t.Fatalf("unwrapped %v", got)
	}
	for k, v := range envVars {
		if got[k] != v {
			t.Fatalf("%s = %q, want %q", k, got[k], v)
		}
	}
	if _, err := anon.Logical().UnwrapWithContext(ctx, w.Token); err == nil {
		t.Fatal("second unwrap succeeded")
	}
	// Revoking a used accessor, or an unknown one, is not an error.
	if err := c.RevokeAccessor(ctx, w.Accessor); err != nil {
		t.Fatalf("revoke used accessor: %v", err)
	}
	if err := c.RevokeAccessor(ctx, "Xnotanaccessor123"); err != nil {
		t.Fatalf("revoke unknown accessor: %v", err)
	}

	// A token revoked before use never unwraps.
	w2, err := c.Wrap(ctx, randID("sb-"), map[string]string{"A": "1"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.RevokeAccessor(ctx, w2.Accessor); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if _, err := anon.Logical().UnwrapWithContext(ctx, w2.Token); err == nil {
		t.Fatal("revoked token unwrapped")
	}

	// Empty env is allowed.
	w3, err := c.Wrap(ctx, randID("sb-"), nil, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if sec, err := anon.Logical().UnwrapWithContext(ctx, w3.Token); err != nil || len(sec.Data["data"].(map[string]any)) != 0 {
		t.Fatalf("empty env unwrap: %v, %v", sec, err)
	}
	_, err = c.Wrap(ctx, "../users", nil, time.Minute)
	wantCode(t, err, broker.CodeInvalid)
}

// A policy whose max_wrapping_ttl is below the requested TTL makes the wrapped
// read fail after the bundle was written: Wrap must undo the write.
func TestWrapFailureLeavesNothing(t *testing.T) {
	b := sharedBroker(t)
	ctx := testCtx(t)
	pol := PolicyHCL("broker", "transit", "broker-secrets")
	stanza := "path \"broker/data/sandboxes/*\" {\n  capabilities = [\"create\", \"read\", \"update\", \"delete\"]\n"
	if !strings.Contains(pol, stanza) {
		t.Fatalf("policy layout changed:\n%s", pol)
	}
	pol = strings.Replace(pol, stanza, stanza+"  max_wrapping_ttl = \"30s\"\n", 1)
	if err := b.admin.Sys().PutPolicyWithContext(ctx, "broker-short-wrap", pol); err != nil {
		t.Fatal(err)
	}
	tok, err := b.admin.Auth().Token().CreateWithContext(ctx, &apiTokenCreate{Policies: []string{"broker-short-wrap"}, TTL: "10m"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(ctx, Config{Addr: b.v.Addr, Token: tok.Auth.ClientToken}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	if _, err := c.Wrap(ctx, randID("sb-"), map[string]string{"K": "v"}, 10*time.Second); err != nil {
		t.Fatalf("wrap within the policy's max: %v", err)
	}
	sid := randID("sb-")
	_, err = c.Wrap(ctx, sid, map[string]string{"K": "v"}, 5*time.Minute)
	if err == nil {
		t.Fatal("Wrap beyond max_wrapping_ttl succeeded")
	}
	t.Logf("Wrap failed as expected: %v", err)
	if left := sandboxesLeft(t, b); len(left) != 0 {
		t.Fatalf("left under sandboxes/ after a failed Wrap: %v", left)
	}
}
