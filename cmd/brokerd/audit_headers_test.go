package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestVaultCallsCarryRequestContext: every Vault call made for an API request
// carries the caller's user and the same request id as the HTTP answer and
// the access log, as audited, non-HMAC'd headers; provisioning calls also
// name the runtime and the sandbox.
func TestVaultCallsCarryRequestContext(t *testing.T) {
	v := shared.Vault(t)
	auditPath := filepath.Join(t.TempDir(), "audit.log")
	cfg := setupVault(t, v)
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"setup", "--role-id-file", cfg.roleIDFile, "--secret-id-file", cfg.secretIDFile, "--audit-file", auditPath},
		mapEnv(map[string]string{"VAULT_ADDR": v.Addr, "VAULT_TOKEN": v.Token}), &out, &errb)
	if err != nil {
		t.Fatalf("setup with an audit device: %v\n%s", err, errb.String())
	}
	b := startBroker(t, cfg, nil)
	user := "audit-user-" + randHex(4)
	c := newClient(t, b.URL, newAPIKey(t, v, user))

	create := c.do("POST", "/api/v1/user/secrets", map[string]any{"name": "AUDITED_KEY", "value": "sk-audited-value-0123456789"})
	if create.Status != 201 {
		t.Fatalf("create: %d %s", create.Status, create.Body)
	}
	var sec struct{ ID string }
	create.JSON(t, &sec)
	prov := c.do("POST", "/api/v1/runtimes", map[string]any{"project_id": "p", "secret_ids": []string{sec.ID}})
	if prov.Status != 201 {
		t.Fatalf("provision: %d %s", prov.Status, prov.Body)
	}
	var rt runtimeJSON
	prov.JSON(t, &rt)

	createID, provID := create.Header.Get("X-Request-Id"), prov.Header.Get("X-Request-Id")
	if createID == "" || provID == "" || createID == provID {
		t.Fatalf("request ids %q %q", createID, provID)
	}
	if !strings.Contains(b.Logs.String(), `"request_id":"`+createID+`"`) {
		t.Fatalf("the access log does not carry the request id of the answer")
	}

	type entry struct {
		Type    string `json:"type"`
		Request struct {
			Path    string              `json:"path"`
			Headers map[string][]string `json:"headers"`
		} `json:"request"`
	}
	deadline := time.Now().Add(10 * time.Second)
	var byRequest map[string][]entry
	for {
		byRequest = map[string][]entry{}
		f, err := os.Open(auditPath)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var e entry
			if json.Unmarshal(sc.Bytes(), &e) != nil || e.Type != "request" {
				continue
			}
			if id := e.Request.Headers["x-request-id"]; len(id) == 1 {
				byRequest[id[0]] = append(byRequest[id[0]], e)
			}
		}
		f.Close()
		if len(byRequest[createID]) >= 4 && len(byRequest[provID]) >= 4 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := len(byRequest[createID]); n < 4 {
		t.Fatalf("create: %d audited Vault calls carry its request id, want at least 4 (encrypt, hmac, name, data, metadata)", n)
	}
	for _, e := range byRequest[createID] {
		if strings.HasPrefix(e.Request.Path, "broker/data/apikeys/") {
			continue // the API key lookup that identifies the user comes first
		}
		if got := e.Request.Headers["x-broker-user"]; len(got) != 1 || got[0] != user {
			t.Fatalf("create call %s: x-broker-user %v, want %s", e.Request.Path, got, user)
		}
	}
	var wrapped bool
	for _, e := range byRequest[provID] {
		if strings.HasPrefix(e.Request.Path, "broker/data/apikeys/") {
			continue
		}
		if got := e.Request.Headers["x-broker-user"]; len(got) != 1 || got[0] != user {
			t.Fatalf("provision call %s: x-broker-user %v", e.Request.Path, got)
		}
		if strings.HasPrefix(e.Request.Path, "broker/data/sandboxes/") {
			wrapped = true
			if rtID := e.Request.Headers["x-broker-runtime"]; len(rtID) != 1 || rtID[0] != rt.ID {
				t.Fatalf("bundle call: x-broker-runtime %v, want %s", rtID, rt.ID)
			}
			if sb := e.Request.Headers["x-broker-sandbox"]; len(sb) != 1 || sb[0] != rt.Sandbox.ID {
				t.Fatalf("bundle call: x-broker-sandbox %v, want %s", sb, rt.Sandbox.ID)
			}
		}
	}
	if !wrapped {
		t.Fatal("no audited call on the sandbox bundle carries the provisioning request id")
	}
	raw, _ := os.ReadFile(auditPath)
	if bytes.Contains(raw, []byte("sk-audited-value-0123456789")) {
		t.Fatal("the audit log holds the plaintext value")
	}
}
