package client_test

// A real brokerd (the binary testenv.Command builds) on the package's shared
// dev Vault and Redis from internal/testenv, for the SDK's integration tests.

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/client"
	"github.com/acme/secretsbroker/internal/testenv"
	"github.com/acme/secretsbroker/vaultx"
)

var shared testenv.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	shared.Close()
	os.Exit(code)
}

// brokerd is one `brokerd serve` process.
type brokerd struct {
	URL      string
	AdminURL string // the admin listener: /metrics
	Logs     *testenv.SyncBuffer
	vault    *testenv.Vault
}

// startBrokerd runs `brokerd setup` on the shared Vault, then `brokerd serve`
// with the shared Redis and the extra environment on a free loopback port,
// waits until /healthz answers, and stops it (SIGTERM) on cleanup
// (testenv.StartServer).
func startBrokerd(t *testing.T, extra map[string]string) *brokerd {
	t.Helper()
	v, r := shared.Vault(t), shared.Redis(t)
	bin := testenv.Command(t, "brokerd")
	dir := t.TempDir()
	roleID, secretID := filepath.Join(dir, "role_id"), filepath.Join(dir, "secret_id")
	base := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "VAULT_ADDR=" + v.Addr}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	setup := exec.CommandContext(ctx, bin, "setup", "--role-id-file", roleID, "--secret-id-file", secretID)
	setup.Env = append(base, "VAULT_TOKEN="+v.Token)
	if out, err := setup.CombinedOutput(); err != nil {
		t.Fatalf("brokerd setup: %v\n%s", err, out)
	}

	addr, admin := testenv.FreeAddr(t), testenv.FreeAddr(t)
	env := append(base, "BROKER_VAULT_ROLE_ID_FILE="+roleID, "BROKER_VAULT_SECRET_ID_FILE="+secretID,
		"BROKER_LISTEN_ADDR="+addr, "BROKER_ADMIN_ADDR="+admin, "REDIS_URL="+r.URL)
	for k, val := range extra {
		env = append(env, k+"="+val)
	}
	srv := testenv.StartServer(t, bin, []string{"serve"}, env)
	b := &brokerd{URL: srv.API, AdminURL: srv.Admin, Logs: srv.Logs, vault: v}

	probe, err := client.New(b.URL, "", client.WithTimeout(time.Second), client.WithRetry(client.Retry{}))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for probe.Healthz(context.Background()) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("brokerd serve did not answer /healthz within 30s\n%s", b.Logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return b
}

// key issues an API key for a fresh user straight into Vault with the root
// token, as `brokerctl apikeys create` does.
func (b *brokerd) key(t *testing.T, user string) string {
	t.Helper()
	ctx := context.Background()
	vc, err := vaultx.New(ctx, vaultx.Config{Addr: b.vault.Addr, Token: b.vault.Token}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Close()
	k, _, err := broker.CreateAPIKey(ctx, vc, user+"-"+strconv.FormatInt(time.Now().UnixNano(), 36), "sdk-test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// client returns an SDK client of b for a fresh user.
func (b *brokerd) client(t *testing.T, user string, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(b.URL, b.key(t, user), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
