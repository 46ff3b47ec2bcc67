package vaultx

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/rs/zerolog"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/internal/testenv"
)

// env is the package's shared dev Vault, for tests that neither stop nor seal it.
var env testenv.Shared

func TestMain(m *testing.M) { testenv.Main(m, &env) }

func testCtx(t *testing.T) context.Context { return testenv.Context(t, 60*time.Second) }

func randID(prefix string) string { return testenv.RandID(prefix) }

func adminClient(t *testing.T, v *testenv.Vault) *api.Client {
	t.Helper()
	c, err := NewAPIClient(Config{Addr: v.Addr, Token: v.Token}, APIOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// anonClient holds no token (as sandbox-init's).
func anonClient(t *testing.T, v *testenv.Vault) *api.Client {
	t.Helper()
	c := adminClient(t, v)
	c.SetToken("")
	return c
}

func testLoggerB() zerolog.Logger { return zerolog.Nop() }

func testLogger(t *testing.T) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
}

// broker is a vaultx client logged in with AppRole after Setup.
type testBroker struct {
	v     *testenv.Vault
	admin *api.Client
	c     *Client
	setup SetupResult
	cfg   Config
}

// newBroker runs Setup with o (role_id and secret_id files in a temp dir) and
// returns a client logged in with that AppRole.
func newBroker(t *testing.T, v *testenv.Vault, o SetupOptions) *testBroker {
	t.Helper()
	ctx := testCtx(t)
	dir := t.TempDir()
	o.RoleIDFile = filepath.Join(dir, "role-id")
	o.SecretIDFile = filepath.Join(dir, "secret-id")
	admin := adminClient(t, v)
	res, err := Setup(ctx, admin, o)
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	cfg := Config{
		Addr: v.Addr, RoleIDFile: o.RoleIDFile, SecretIDFile: o.SecretIDFile,
		KVMount: o.KVMount, TransitMount: o.TransitMount, TransitKey: o.TransitKey,
	}
	c, err := New(ctx, cfg, testLogger(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return &testBroker{v: v, admin: admin, c: c, setup: res, cfg: cfg}
}

func sharedBroker(t *testing.T) *testBroker {
	t.Helper()
	return newBroker(t, env.Vault(t), SetupOptions{})
}

func wantCode(t *testing.T, err error, code broker.Code) {
	t.Helper()
	if !broker.IsCode(err, code) {
		t.Fatalf("error = %v (code %q), want code %q", err, broker.ErrorCode(err), code)
	}
}
