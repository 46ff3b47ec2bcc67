package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acme/secretsbroker/internal/testenv"
)

func TestServeRejectsBadSettings(t *testing.T) {
	dir := t.TempDir()
	unreadable := filepath.Join(dir, "role_id")
	if err := os.WriteFile(unreadable, []byte("x"), 0o000); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(dir, "secret_id")
	if err := os.WriteFile(secret, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "absent")
	cases := map[string]struct {
		env  map[string]string
		want string
	}{
		"malformed VAULT_ADDR":        {map[string]string{"VAULT_ADDR": "ht!tp://bad addr", "VAULT_TOKEN": "t"}, "vault address"},
		"VAULT_ADDR no scheme":        {map[string]string{"VAULT_ADDR": "127.0.0.1:8200", "VAULT_TOKEN": "t"}, "vault address"},
		"unreadable role-id":          {map[string]string{"VAULT_ADDR": "http://127.0.0.1:1", "BROKER_VAULT_ROLE_ID_FILE": missing, "BROKER_VAULT_SECRET_ID_FILE": secret}, "absent"},
		"no credentials":              {map[string]string{"VAULT_ADDR": "http://127.0.0.1:1"}, "credentials"},
		"bad duration":                {map[string]string{"VAULT_ADDR": "http://127.0.0.1:1", "VAULT_TOKEN": "t", "BROKER_WRAP_TTL": "soon"}, "BROKER_WRAP_TTL"},
		"wrap ttl above the cap":      {map[string]string{"VAULT_ADDR": "http://127.0.0.1:1", "VAULT_TOKEN": "t", "BROKER_WRAP_TTL": "2h"}, "exceeds"},
		"wrap ttl beyond Vault's 24h": {map[string]string{"VAULT_ADDR": "http://127.0.0.1:1", "VAULT_TOKEN": "t", "BROKER_WRAP_TTL": "25h", "BROKER_MAX_WRAP_TTL": "48h"}, "BROKER_WRAP_TTL (25h0m0s) must be between 1s and 24h"},
		"max wrap ttl beyond 24h":     {map[string]string{"VAULT_ADDR": "http://127.0.0.1:1", "VAULT_TOKEN": "t", "BROKER_MAX_WRAP_TTL": "48h"}, "BROKER_MAX_WRAP_TTL (48h0m0s) must be between 1s and 24h"},
		"wrap ttl below 1s":           {map[string]string{"VAULT_ADDR": "http://127.0.0.1:1", "VAULT_TOKEN": "t", "BROKER_WRAP_TTL": "500ms"}, "BROKER_WRAP_TTL"},
		"bad log level":               {map[string]string{"VAULT_ADDR": "http://127.0.0.1:1", "VAULT_TOKEN": "t", "BROKER_LOG_LEVEL": "loud"}, "BROKER_LOG_LEVEL"},
	}
	if os.Geteuid() != 0 { // root reads any file
		cases["unreadable role-id (mode 000)"] = struct {
			env  map[string]string
			want string
		}{map[string]string{"VAULT_ADDR": "http://127.0.0.1:1", "BROKER_VAULT_ROLE_ID_FILE": unreadable, "BROKER_VAULT_SECRET_ID_FILE": secret}, "role_id"}
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var stderr bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := run(ctx, []string{"serve"}, mapEnv(tc.env), &stderr, &stderr)
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("want a usage error (exit 2), got %v", err)
			}
			var out bytes.Buffer
			if code := exitCode(err, &out); code != 2 {
				t.Fatalf("exit code %d, want 2", code)
			}
			line := out.String()
			if strings.Count(line, "\n") != 1 || !strings.Contains(line, tc.want) {
				t.Fatalf("want one line mentioning %q, got %q", tc.want, line)
			}
		})
	}
}

type readyBody struct {
	Status string `json:"status"`
	Checks map[string]struct {
		Status string `json:"status"`
		Detail string `json:"detail"`
	} `json:"checks"`
}

func readyz(t *testing.T, c *client) (int, readyBody) {
	t.Helper()
	r := c.do("GET", "/readyz", nil)
	var b readyBody
	r.JSON(t, &b)
	return r.Status, b
}

func waitReady(t *testing.T, c *client, wantStatus int, within time.Duration) readyBody {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st, b := readyz(t, c)
		if st == wantStatus {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz stayed %d (%+v), want %d", st, b, wantStatus)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestReadyzFollowsVault: readiness names Vault and Redis, turns 503 naming
// the cause when Vault is sealed or stopped, and recovers without a restart.
func TestReadyzFollowsVault(t *testing.T) {
	v := testenv.StartVaultRaft(t)
	r := testenv.StartRedis(t)
	cfg := setupVault(t, v)
	b := startBroker(t, cfg, map[string]string{"REDIS_URL": r.URL})
	c := newClient(t, b.URL, "")

	body := waitReady(t, c, 200, 10*time.Second)
	if body.Checks["vault"].Status != "ok" || body.Checks["redis"].Status != "ok" {
		t.Fatalf("readyz checks = %+v, want vault and redis ok", body.Checks)
	}

	v.Seal(t)
	body = waitReady(t, c, 503, 10*time.Second)
	if !strings.Contains(body.Checks["vault"].Detail, "sealed") {
		t.Fatalf("sealed vault: detail %q does not name the cause", body.Checks["vault"].Detail)
	}
	v.Unseal(t)
	waitReady(t, c, 200, 20*time.Second)

	v.Stop(t)
	body = waitReady(t, c, 503, 10*time.Second)
	if body.Checks["vault"].Status != "unavailable" || body.Checks["vault"].Detail == "" {
		t.Fatalf("stopped vault: checks %+v", body.Checks)
	}
	v.Start(t)
	waitReady(t, c, 200, 30*time.Second)

	r.Stop(t)
	body = waitReady(t, c, 200, 10*time.Second)
	for body.Checks["redis"].Status != "unavailable" {
		body = waitReady(t, c, 200, 10*time.Second)
	}
	if body.Status != "degraded" {
		t.Fatalf("redis down: status %q, want degraded", body.Status)
	}
}

// TestGracefulShutdown: cancelling serve drains and returns nil.
func TestGracefulShutdown(t *testing.T) {
	v := shared.Vault(t)
	cfg := setupVault(t, v)
	b := startBroker(t, cfg, nil)
	c := newClient(t, b.URL, "")
	waitReady(t, c, 200, 10*time.Second)
	b.cancel()
	select {
	case err := <-b.done:
		if err != nil {
			t.Fatalf("serve returned %v after SIGTERM-equivalent", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30s")
	}
	b.cancel = nil
	if !strings.Contains(b.Logs.String(), `"stopped"`) {
		t.Fatalf("no stopped log line")
	}
}
