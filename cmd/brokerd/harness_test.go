package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/internal/testenv"
	"github.com/acme/secretsbroker/vaultx"
)

// configured is a Vault set up by `brokerd setup`, with AppRole files.
type configured struct {
	vault        *testenv.Vault
	roleIDFile   string
	secretIDFile string
	// egressd's AppRole files, also written by setup.
	egressRoleIDFile, egressSecretIDFile string
}

// setupVault runs the real `brokerd setup` against v with its root token.
func setupVault(t *testing.T, v *testenv.Vault) configured {
	t.Helper()
	dir := t.TempDir()
	c := configured{vault: v, roleIDFile: filepath.Join(dir, "role_id"), secretIDFile: filepath.Join(dir, "secret_id"),
		egressRoleIDFile: filepath.Join(dir, "egress_role_id"), egressSecretIDFile: filepath.Join(dir, "egress_secret_id")}
	var out, errb bytes.Buffer
	env := map[string]string{"VAULT_ADDR": v.Addr, "VAULT_TOKEN": v.Token}
	err := run(context.Background(), []string{"setup", "--role-id-file", c.roleIDFile, "--secret-id-file", c.secretIDFile,
		"--egress-role-id-file", c.egressRoleIDFile, "--egress-secret-id-file", c.egressSecretIDFile},
		mapEnv(env), &out, &errb)
	if err != nil {
		t.Fatalf("brokerd setup: %v\n%s", err, errb.String())
	}
	return c
}

func mapEnv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// brokerProc is a brokerd `serve` running in-process on a free port.
type brokerProc struct {
	URL string
	// AdminURL is the operator listener's (metrics), "" when not enabled.
	AdminURL string
	Logs     *testenv.SyncBuffer
	cancel   context.CancelFunc
	done     chan error
}

// startBroker runs `brokerd serve` with AppRole credentials from c and the
// extra environment, waits until it listens, and stops it on cleanup.
func startBroker(t *testing.T, c configured, extra map[string]string) *brokerProc {
	t.Helper()
	env := map[string]string{
		"VAULT_ADDR":                  c.vault.Addr,
		"BROKER_VAULT_ROLE_ID_FILE":   c.roleIDFile,
		"BROKER_VAULT_SECRET_ID_FILE": c.secretIDFile,
		"BROKER_LISTEN_ADDR":          "127.0.0.1:0",
		"BROKER_ADMIN_ADDR":           "127.0.0.1:0",
		"BROKER_LOG_LEVEL":            "debug",
	}
	for k, v := range extra {
		if v == "" {
			delete(env, k)
		} else {
			env[k] = v
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &brokerProc{Logs: &testenv.SyncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() { p.done <- run(ctx, []string{"serve"}, mapEnv(env), io.Discard, p.Logs) }()
	deadline := time.Now().Add(20 * time.Second)
	for p.URL == "" {
		select {
		case err := <-p.done:
			cancel()
			t.Fatalf("brokerd serve exited early: %v\n%s", err, p.Logs.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("brokerd serve did not listen within 20s\n%s", p.Logs.String())
		}
		p.URL, p.AdminURL = testenv.ListenURLs(p.Logs.String())
		time.Sleep(10 * time.Millisecond)
	}
	t.Cleanup(p.Stop)
	return p
}

// Stop cancels the broker and waits for a clean shutdown.
func (p *brokerProc) Stop() {
	if p.cancel == nil {
		return
	}
	p.cancel()
	p.cancel = nil
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
	}
}

// newAPIKey issues a key for user straight into Vault with the root token,
// as `brokerctl apikeys create` does.
func newAPIKey(t *testing.T, v *testenv.Vault, user string) string {
	t.Helper()
	vc, err := vaultx.New(context.Background(), vaultx.Config{Addr: v.Addr, Token: v.Token}, nopLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Close()
	key, _, err := broker.CreateAPIKey(context.Background(), vc, user, "test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// client is a tiny JSON client for the broker's API.
type client struct {
	t    *testing.T
	base string
	key  string
	hc   *http.Client
	// bodies collects every response body, for the leak check.
	bodies *testenv.SyncBuffer
}

func newClient(t *testing.T, base, key string) *client {
	return &client{t: t, base: base, key: key, hc: &http.Client{Timeout: 60 * time.Second}, bodies: &testenv.SyncBuffer{}}
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) JSON(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// do sends one request (with a JSON Content-Type, as a browser-less client
// would) and returns the answer; a transport failure is fatal.
func (c *client) do(method, path string, body any, hdr ...string) response {
	c.t.Helper()
	r, _, err := exchange(c.base, c.key, false, c.hc, method, path, body, append([]string{"Content-Type", "application/json"}, hdr...))
	if err != nil {
		c.t.Fatal(err)
	}
	fmt.Fprintf(c.bodies, "%s\n", r.Body)
	return r
}

func nopLogger() zerolog.Logger { return zerolog.Nop() }

func TestMain(m *testing.M) {
	code := m.Run()
	code = checkOpenAPICoverage(code, os.Stderr)
	shared.Close()
	os.Exit(code)
}

var shared testenv.Shared
