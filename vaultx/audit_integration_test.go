package vaultx

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/internal/testenv"
)

func TestAuditHeadersReachTheAuditLog(t *testing.T) {
	v := testenv.StartVault(t)
	logPath := filepath.Join(t.TempDir(), "audit.log")
	b := newBroker(t, v, SetupOptions{AuditFilePath: logPath})
	c := b.c
	ctx := broker.WithAudit(testCtx(t), broker.Audit{UserID: "alice-audit", RequestID: "req-7f3a", RuntimeID: "rt-42", SandboxID: "sb-99"})
	const secretValue = "sk-audit-plaintext-never-logged"
	ct, err := c.Encrypt(ctx, "alice-audit", []byte(secretValue))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateSecret(ctx, broker.SecretWrite{UserID: "alice-audit", SecretID: "s1", Name: "K", Ciphertext: ct, MaskedValue: "••••", Fingerprint: "hmac:x"}); err != nil {
		t.Fatal(err)
	}
	// A call without audit data carries none of the headers.
	if _, err := c.CountSecrets(testCtx(t), "bob-audit"); err != nil {
		t.Fatal(err)
	}

	type entry struct {
		Type    string `json:"type"`
		Request struct {
			Path    string              `json:"path"`
			Headers map[string][]string `json:"headers"`
		} `json:"request"`
	}
	var matched, bare int
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		raw, err := os.ReadFile(logPath)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(raw), secretValue) {
			t.Fatal("plaintext value in the audit log")
		}
		matched, bare = 0, 0
		sc := bufio.NewScanner(strings.NewReader(string(raw)))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var e entry
			if json.Unmarshal(sc.Bytes(), &e) != nil || e.Type != "request" {
				continue
			}
			h := e.Request.Headers
			switch {
			case strings.Contains(e.Request.Path, "users/alice-audit/") || strings.HasPrefix(e.Request.Path, "transit/encrypt"):
				if first(h["x-broker-user"]) != "alice-audit" || first(h["x-request-id"]) != "req-7f3a" ||
					first(h["x-broker-runtime"]) != "rt-42" || first(h["x-broker-sandbox"]) != "sb-99" {
					t.Fatalf("request %s: audited headers %v", e.Request.Path, h)
				}
				matched++
			case strings.Contains(e.Request.Path, "users/bob-audit/"):
				if len(h["x-broker-user"])+len(h["x-request-id"])+len(h["x-broker-runtime"])+len(h["x-broker-sandbox"]) != 0 {
					t.Fatalf("call without audit data carried headers %v", h)
				}
				bare++
			}
		}
		if matched >= 3 && bare >= 1 {
			t.Logf("%d audited requests carried all four headers in clear", matched)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("audit log: %d matching requests, %d bare (want >= 3 and >= 1)", matched, bare)
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}
