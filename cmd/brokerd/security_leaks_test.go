package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/acme/secretsbroker/internal/testenv"
)

// TestSecurityNoPlaintextAnywhere runs every kind of operation against a
// broker whose Vault has a file audit device (as `brokerd setup
// --audit-file` enables it), including failed authentications, idempotent
// replays, provisioning, restarts, evaluations and a sandbox's unwrap; then
// no secret value, API key or bootstrap token appears in the broker's log,
// in Redis, or in Vault's audit log (verbatim or base64).
func TestSecurityNoPlaintextAnywhere(t *testing.T) {
	v := testenv.StartVault(t)
	r := testenv.StartRedis(t)
	dir := t.TempDir()
	c := configured{vault: v, roleIDFile: filepath.Join(dir, "role_id"), secretIDFile: filepath.Join(dir, "secret_id")}
	audit := filepath.Join(dir, "audit.log")
	var out, errb testenv.SyncBuffer
	err := run(context.Background(), []string{"setup", "--role-id-file", c.roleIDFile, "--secret-id-file", c.secretIDFile, "--audit-file", audit},
		mapEnv(map[string]string{"VAULT_ADDR": v.Addr, "VAULT_TOKEN": v.Token}), &out, &errb)
	if err != nil {
		t.Fatalf("setup: %v\n%s", err, errb.String())
	}
	b := startBroker(t, c, map[string]string{"REDIS_URL": r.URL})
	key := newAPIKey(t, v, "leaks")
	var values, keys, tokens []string
	keys = append(keys, key)
	cl := newClient(t, b.URL, key)
	val := func() string {
		s := "sk-leakcheck-" + randHex(16)
		values = append(values, s)
		return s
	}

	var ids []string
	for _, name := range []string{"LEAK_ONE", "LEAK_TWO"} {
		res := cl.do("POST", "/api/v1/user/secrets", map[string]any{"name": name, "value": val()}, "Idempotency-Key", "ik-"+randHex(6))
		if res.Status != 201 {
			t.Fatalf("create: %d %s", res.Status, res.Body)
		}
		var s struct{ ID string }
		res.JSON(t, &s)
		ids = append(ids, s.ID)
	}
	body := map[string]any{"name": "LEAK_REPLAY", "value": val()}
	ik := "ik-" + randHex(6)
	cl.do("POST", "/api/v1/user/secrets", body, "Idempotency-Key", ik)
	if res := cl.do("POST", "/api/v1/user/secrets", body, "Idempotency-Key", ik); res.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("no idempotent replay: %d %s", res.Status, res.Body)
	}
	cl.do("POST", "/api/v1/user/secrets/preset", map[string]any{"provider": "openai", "value": val()})
	cl.do("PUT", "/api/v1/user/secrets/"+ids[0], map[string]any{"value": val()})
	cl.do("POST", "/api/v1/user/secrets/"+ids[0]+"/rollback", map[string]any{"version": 1})
	cl.do("POST", "/api/v1/user/secrets", map[string]any{"name": "bad name", "value": val()})
	cl.do("PUT", "/api/v1/user/secrets/"+ids[1], map[string]any{"value": val() + "\x00"})
	wrong := "sbk_" + randHex(20)
	keys = append(keys, wrong)
	newClient(t, b.URL, wrong).do("GET", "/api/v1/user/secrets", nil)
	newClient(t, b.URL, "").do("GET", "/api/v1/user/secrets", nil, "Authorization", "Bearer "+wrong)

	bootstrap := func(res response) string {
		var rt struct {
			ID      string `json:"id"`
			Sandbox struct {
				Bootstrap struct{ Token string } `json:"bootstrap"`
			} `json:"sandbox"`
		}
		res.JSON(t, &rt)
		tokens = append(tokens, rt.Sandbox.Bootstrap.Token)
		return rt.ID
	}
	res := cl.do("POST", "/api/v1/runtimes", map[string]any{"project_id": "p", "secret_ids": ids}, "Idempotency-Key", "ik-"+randHex(6))
	if res.Status != 201 {
		t.Fatalf("provision: %d %s", res.Status, res.Body)
	}
	rid := bootstrap(res)
	// The sandbox unwraps its token (as sandbox-init does).
	req, _ := http.NewRequest("POST", v.Addr+"/v1/sys/wrapping/unwrap", bytes.NewReader([]byte("{}")))
	req.Header.Set("X-Vault-Token", tokens[0])
	if ures, err := (&http.Client{Timeout: 10 * time.Second}).Do(req); err != nil || ures.StatusCode != 200 {
		t.Fatalf("unwrap: %v %v", err, ures)
	} else {
		ures.Body.Close()
	}
	bootstrap(cl.do("POST", "/api/v1/runtimes/"+rid+"/restart", map[string]any{}))
	res = cl.do("POST", "/api/v1/evaluations", map[string]any{"project_id": "p", "secret_ids": ids, "items": []any{map[string]any{"name": "i1"}}}, "Idempotency-Key", "ik-"+randHex(6))
	var ev struct {
		Items []struct {
			Runtime struct {
				Bootstrap struct{ Token string } `json:"bootstrap"`
			} `json:"runtime_sandbox"`
			Task struct {
				Bootstrap struct{ Token string } `json:"bootstrap"`
			} `json:"task_sandbox"`
		} `json:"items"`
	}
	if err := json.Unmarshal(res.Body, &ev); err != nil || len(ev.Items) != 1 {
		t.Fatalf("evaluation: %d %s", res.Status, res.Body)
	}
	tokens = append(tokens, ev.Items[0].Runtime.Bootstrap.Token, ev.Items[0].Task.Bootstrap.Token)
	cl.do("DELETE", "/api/v1/runtimes/"+rid, nil)
	cl.do("DELETE", "/api/v1/user/secrets/"+ids[1], nil)
	cl.do("GET", "/api/v1/user/secrets", nil)
	b.Stop()

	find := func(where string, text []byte, kind string, list []string) {
		t.Helper()
		for _, s := range list {
			if s == "" {
				t.Fatalf("empty %s planted", kind)
			}
			for _, form := range testenv.Encodings(s) {
				if bytes.Contains(text, []byte(form)) {
					t.Errorf("LEAK: %s holds a %s (%.10s...)", where, kind, s)
					break
				}
			}
		}
	}
	logs := []byte(b.Logs.String())
	find("the broker's log", logs, "secret value", values)
	find("the broker's log", logs, "API key", keys)
	find("the broker's log", logs, "bootstrap token", tokens)
	dump, n, err := testenv.DumpRedis(r.Addr)
	if err != nil || n == 0 {
		t.Fatalf("dump Redis: %d keys, %v", n, err)
	}
	find("Redis", []byte(dump), "secret value", values)
	find("Redis", []byte(dump), "API key", keys)
	find("Redis", []byte(dump), "bootstrap token", tokens)
	auditLog, err := os.ReadFile(audit)
	if err != nil || len(auditLog) == 0 {
		t.Fatalf("audit log: %v (%d bytes)", err, len(auditLog))
	}
	find("Vault's audit log", auditLog, "secret value", values)
	find("Vault's audit log", auditLog, "API key", keys)
	find("Vault's audit log", auditLog, "bootstrap token", tokens)
	t.Logf("checked %d values, %d keys, %d tokens against %d log bytes, %d Redis keys, %d audit bytes",
		len(values), len(keys), len(tokens), len(logs), n, len(auditLog))
}
