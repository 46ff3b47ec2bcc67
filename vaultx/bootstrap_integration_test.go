package vaultx

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/acme/secretsbroker/broker"
)

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

	look, err := anonClient(t, b.v).Logical().WriteWithContext(ctx, "sys/wrapping/lookup", map[string]any{"token": w.Token})
	if err != nil || look.Data["creation_path"] != c.CreationPath(sid) {
		t.Fatalf("lookup: %v, %v", look, err)
	}
	sec, err := unwrap(t, b, w.Token)
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
	if _, err := unwrap(t, b, w.Token); err == nil {
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
	if _, err := unwrap(t, b, w2.Token); err == nil {
		t.Fatal("revoked token unwrapped")
	}

	// Empty env is allowed.
	w3, err := c.Wrap(ctx, randID("sb-"), nil, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if sec, err := unwrap(t, b, w3.Token); err != nil || len(sec.Data["data"].(map[string]any)) != 0 {
		t.Fatalf("empty env unwrap: %v, %v", sec, err)
	}
	_, err = c.Wrap(ctx, "../users", nil, time.Minute)
	wantCode(t, err, broker.CodeInvalid)
}

// unwrap unwraps with a fresh client holding no token (the api client keeps
// the wrapping token as its own after an unwrap, so never reuse one).
func unwrap(t *testing.T, b *testBroker, token string) (*api.Secret, error) {
	t.Helper()
	return anonClient(t, b.v).Logical().UnwrapWithContext(testCtx(t), token)
}

// brokerWithPolicy returns a token-auth client whose token holds only pol.
func brokerWithPolicy(t *testing.T, b *testBroker, name, pol string) *Client {
	t.Helper()
	ctx := testCtx(t)
	if err := b.admin.Sys().PutPolicyWithContext(ctx, name, pol); err != nil {
		t.Fatal(err)
	}
	tok, err := b.admin.Auth().Token().CreateWithContext(ctx, &api.TokenCreateRequest{Policies: []string{name}, TTL: "10m"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(ctx, Config{Addr: b.v.Addr, Token: tok.Auth.ClientToken}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

const sandboxStanza = "path \"broker/data/sandboxes/*\" {\n  capabilities = [\"create\", \"read\", \"update\", \"delete\"]\n"

// Failure injection without hooks: a token that may write the bundle but not
// read it back (wrapped) makes Wrap fail between the write and the wrap; a
// token whose policy caps max_wrapping_ttl below the requested TTL makes it
// fail at the first step (Vault then demands wrapping for every request on
// that path). Either way nothing may be left under sandboxes/.
func TestWrapFailureLeavesNothing(t *testing.T) {
	b := sharedBroker(t)
	ctx := testCtx(t)
	pol := PolicyHCL("broker", "transit", "broker-secrets")
	if !strings.Contains(pol, sandboxStanza) {
		t.Fatalf("policy layout changed:\n%s", pol)
	}
	noRead := strings.Replace(pol, sandboxStanza, "path \"broker/data/sandboxes/*\" {\n  capabilities = [\"create\", \"update\", \"delete\"]\n", 1)
	shortWrap := strings.Replace(pol, sandboxStanza, sandboxStanza+"  max_wrapping_ttl = \"30s\"\n", 1)
	for name, p := range map[string]string{"broker-no-read": noRead, "broker-short-wrap": shortWrap} {
		c := brokerWithPolicy(t, b, name, p)
		sid := randID("sb-")
		before := c.RoundTrips()
		_, err := c.Wrap(ctx, sid, map[string]string{"K": "v"}, 5*time.Minute)
		if err == nil {
			t.Fatalf("%s: Wrap succeeded", name)
		}
		t.Logf("%s: Wrap failed after %d round trips (cleanup included): %v", name, c.RoundTrips()-before, broker.ErrorCode(err))
		if left := sandboxesLeft(t, b); len(left) != 0 {
			t.Fatalf("%s: left under sandboxes/ after a failed Wrap: %v", name, left)
		}
	}
}
