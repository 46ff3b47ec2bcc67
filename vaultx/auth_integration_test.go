package vaultx

import (
	"net/http"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

func TestAppRoleLoginAndRenewal(t *testing.T) {
	v := env.Vault(t)
	ctx := testCtx(t)
	b := newBroker(t, v, SetupOptions{RoleName: "renew-test", TokenTTL: 3 * time.Second, TokenMaxTTL: time.Minute})
	c := b.c
	if got := c.logins.Load(); got != 1 {
		t.Fatalf("logins = %d, want 1", got)
	}
	tok := c.api.Token()
	ttl0, _, err := c.lookupSelf(ctx, tok)
	if err != nil || ttl0 <= 0 || ttl0 > 3*time.Second {
		t.Fatalf("initial ttl %v, %v", ttl0, err)
	}
	// Well past the 3 s TTL, the same token still works: it was renewed.
	time.Sleep(5 * time.Second)
	if n, err := c.CountSecrets(ctx, "nobody"); err != nil || n != 0 {
		t.Fatalf("CountSecrets after the original TTL: %d, %v", n, err)
	}
	if c.renewals.Load() < 2 || c.logins.Load() != 1 || c.api.Token() != tok {
		t.Fatalf("renewals=%d logins=%d token changed=%v", c.renewals.Load(), c.logins.Load(), c.api.Token() != tok)
	}
	t.Logf("after 5 s: %d renewals, %d login", c.renewals.Load(), c.logins.Load())
}

func TestAppRoleReloginAtMaxTTL(t *testing.T) {
	v := env.Vault(t)
	ctx := testCtx(t)
	b := newBroker(t, v, SetupOptions{RoleName: "maxttl-test", TokenTTL: 2 * time.Second, TokenMaxTTL: 3 * time.Second})
	c := b.c
	time.Sleep(5 * time.Second)
	if n, err := c.CountSecrets(ctx, "nobody"); err != nil || n != 0 {
		t.Fatalf("CountSecrets past the max TTL: %d, %v", n, err)
	}
	if c.logins.Load() < 2 {
		t.Fatalf("logins = %d, want a re-login once the max TTL is near", c.logins.Load())
	}
	t.Logf("after 5 s with max TTL 3 s: %d logins, %d renewals", c.logins.Load(), c.renewals.Load())
}

func TestReloginAfterTokenRevoked(t *testing.T) {
	v := env.Vault(t)
	ctx := testCtx(t)
	b := sharedBroker(t)
	c := b.c
	old := c.api.Token()
	if _, err := b.admin.Logical().WriteWithContext(ctx, "auth/token/revoke", map[string]any{"token": old}); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	// The old token is dead...
	if _, _, err := c.lookupSelf(ctx, old); statusOf(err) != http.StatusForbidden {
		t.Fatalf("revoked token lookup: %v", err)
	}
	// ...yet the next call succeeds after one re-login, and so do concurrent ones.
	errs := make(chan error, 10)
	for i := 0; i < 10; i++ {
		go func() { _, err := c.CountSecrets(ctx, "nobody"); errs <- err }()
	}
	for i := 0; i < 10; i++ {
		if err := <-errs; err != nil {
			t.Fatalf("call after revocation: %v", err)
		}
	}
	if c.api.Token() == old || c.logins.Load() != 2 {
		t.Fatalf("logins = %d (want 2, one shared re-login)", c.logins.Load())
	}
	_ = v
}

func TestTokenAuthRejectedTokenIsInvalid(t *testing.T) {
	v := env.Vault(t)
	_, err := New(testCtx(t), Config{Addr: v.Addr, Token: "hvs.not-a-real-token"}, testLogger(t))
	if err == nil {
		t.Fatal("New accepted a bogus token")
	}
	wantCode(t, err, "invalid")
}

func TestTokenAuthRenewsItsToken(t *testing.T) {
	v := env.Vault(t)
	ctx := testCtx(t)
	admin := adminClient(t, v)
	if _, err := Setup(ctx, admin, SetupOptions{}); err != nil {
		t.Fatal(err)
	}
	tok, err := admin.Auth().Token().CreateWithContext(ctx, &api.TokenCreateRequest{
		Policies: []string{DefaultPolicyName}, TTL: "3s", ExplicitMaxTTL: "1m", Renewable: ptr(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(ctx, Config{Addr: v.Addr, Token: tok.Auth.ClientToken}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(5 * time.Second)
	if _, err := c.CountSecrets(ctx, "nobody"); err != nil {
		t.Fatalf("token expired despite renewal: %v", err)
	}
	if c.renewals.Load() == 0 {
		t.Fatal("no renewal")
	}
}

func ptr[T any](v T) *T { return &v }
