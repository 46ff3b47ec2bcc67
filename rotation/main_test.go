package rotation_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/rs/zerolog"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/internal/testenv"
	"github.com/acme/secretsbroker/vaultx"
)

// env is the package's shared dev Vault (one per test binary), closed by
// TestMain; tests that stop, seal or audit Vault start their own.
var env testenv.Shared

func TestMain(m *testing.M) { testenv.Main(m, &env) }

// testCtx bounds one test's Vault calls.
func testCtx(t *testing.T) context.Context { return testenv.Context(t, time.Minute) }

// adminClient is an api.Client with the root token of v.
func adminClient(t *testing.T, v *testenv.Vault) *api.Client {
	t.Helper()
	admin, err := vaultx.NewAPIClient(vaultx.Config{Addr: v.Addr, Token: v.Token}, vaultx.APIOptions{})
	if err != nil {
		t.Fatalf("admin client: %v", err)
	}
	return admin
}

func testLogger(t *testing.T) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
}

// newAppRoleClient runs Setup with o (role_id and secret_id files in a temp
// dir) and returns a client logged in with that AppRole: the broker's.
func newAppRoleClient(t *testing.T, v *testenv.Vault, o vaultx.SetupOptions) *vaultx.Client {
	t.Helper()
	ctx := testCtx(t)
	dir := t.TempDir()
	o.RoleIDFile = filepath.Join(dir, "role-id")
	o.SecretIDFile = filepath.Join(dir, "secret-id")
	if _, err := vaultx.Setup(ctx, adminClient(t, v), o); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	c, err := vaultx.New(ctx, vaultx.Config{
		Addr: v.Addr, RoleIDFile: o.RoleIDFile, SecretIDFile: o.SecretIDFile,
		KVMount: o.KVMount, TransitMount: o.TransitMount, TransitKey: o.TransitKey,
	}, testLogger(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func wantCode(t *testing.T, err error, code broker.Code) {
	t.Helper()
	if !broker.IsCode(err, code) {
		t.Fatalf("error = %v (code %q), want code %q", err, broker.ErrorCode(err), code)
	}
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}
