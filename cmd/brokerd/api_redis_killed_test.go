package main

import (
	"testing"

	"github.com/acme/secretsbroker/internal/testenv"
)

// TestAPIProvisionWithRedisKilled: with Redis SIGKILLed, provisioning goes on
// (records and accessors live in Vault KV): a new runtime starts and its
// bootstrap unwraps; restarting a runtime provisioned before the outage
// revokes its old token; deleting one revokes its token. Once Redis is back
// nothing was lost: every runtime reads back.
func TestAPIProvisionWithRedisKilled(t *testing.T) {
	e := newAPIEnv(t)
	r := testenv.StartRedis(t)
	b := e.brokerOn(r, nil)
	_, key := e.user("rediskill")
	c := e.client(b, key)
	id := str(t, secretOf(t, c.do("POST", "/api/v1/user/secrets", map[string]any{"name": "KILLED_REDIS", "value": value("sk-killed")})), "id")
	provision := func() (string, string) {
		t.Helper()
		res := c.do("POST", "/api/v1/runtimes", map[string]any{"project_id": "p", "secret_ids": []string{id}})
		wantStatus(t, res, 201)
		rt := decodeObj(t, res)
		return str(t, rt, "id"), checkSandbox(t, obj(t, rt, "sandbox"), true, []string{"KILLED_REDIS"})
	}
	before, beforeTok := provision()

	r.Kill(t)
	during, duringTok := provision()
	if env := unwrap(t, e, duringTok); env["KILLED_REDIS"] == "" {
		t.Errorf("bootstrap minted during the outage carries %v", env)
	}
	res := c.do("POST", "/api/v1/runtimes/"+before+"/restart", map[string]any{})
	wantStatus(t, res, 200)
	if lookupToken(t, e, beforeTok) {
		t.Errorf("restart during the Redis outage left the old bootstrap token alive")
	}
	third, thirdTok := provision()
	wantStatus(t, c.do("DELETE", "/api/v1/runtimes/"+third, nil), 204)
	if lookupToken(t, e, thirdTok) {
		t.Errorf("delete during the Redis outage left the bootstrap token alive")
	}

	r.Start(t)
	for _, rid := range []string{before, during} {
		wantStatus(t, c.do("GET", "/api/v1/runtimes/"+rid, nil), 200)
	}
	checkEnvelope(t, c.do("GET", "/api/v1/runtimes/"+third, nil), 404, "not_found")
}
