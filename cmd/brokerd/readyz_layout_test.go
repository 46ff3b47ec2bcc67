package main

import (
	"strings"
	"testing"
	"time"
)

// TestReadyzChecksLayout: with a KV mount or transit key other than the
// one `brokerd setup` configured (so every request would answer 403),
// /readyz answers 503 naming what is missing, with the broker's AppRole
// token (policy refuses it) and with a root token (the mount or key does
// not exist); the configured layout is ready.
func TestReadyzChecksLayout(t *testing.T) {
	v := shared.Vault(t)
	cfg := setupVault(t, v)

	b := startBroker(t, cfg, nil)
	body := waitReady(t, newClient(t, b.URL, ""), 200, 10*time.Second)
	if body.Checks["vault_layout"].Status != "ok" {
		t.Fatalf("configured layout: checks %+v, want vault_layout ok", body.Checks)
	}

	cases := []struct {
		name string
		env  map[string]string
		want string // in the vault_layout detail
	}{
		{"approle, wrong kv mount", map[string]string{"BROKER_KV_MOUNT": "nope"}, "KV mount nope"},
		{"approle, wrong transit key", map[string]string{"BROKER_TRANSIT_KEY": "nokey"}, "transit key transit/nokey"},
		{"root token, no such kv mount", map[string]string{"VAULT_TOKEN": v.Token, "BROKER_KV_MOUNT": "nope"}, "KV v2 mount nope not found"},
		{"root token, no such transit key", map[string]string{"VAULT_TOKEN": v.Token, "BROKER_TRANSIT_KEY": "nokey"}, "transit key transit/nokey not found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := startBroker(t, cfg, c.env)
			cl := newClient(t, b.URL, "")
			body := waitReady(t, cl, 503, 10*time.Second)
			p := body.Checks["vault_layout"]
			if body.Status != "unavailable" || p.Status != "unavailable" || !strings.Contains(p.Detail, c.want) {
				t.Fatalf("readyz = %+v, want unavailable with vault_layout naming %q", body, c.want)
			}
			if body.Checks["vault"].Status != "ok" {
				t.Fatalf("vault itself reported %+v", body.Checks["vault"])
			}
			// Cached: a burst of probes is cheap and keeps answering 503.
			for range 5 {
				if st, _ := readyz(t, cl); st != 503 {
					t.Fatalf("readyz answered %d, want 503", st)
				}
			}
		})
	}
}
