package main

import (
	"testing"
)

// TestAPIUnknownFieldsAre422: a request member the API does not have is a
// 422 validation error naming it, and nothing is created or changed; the
// documented (Dreadnode-compatible) bodies keep working.
func TestAPIUnknownFieldsAre422(t *testing.T) {
	e := newAPIEnv(t)
	b := e.broker(false, nil)
	user, key := e.user("strict")
	c := e.client(b, key)

	empty := kvTree(t, e.root, user)
	r := c.do("POST", "/api/v1/user/secrets", map[string]any{"name": "STRICT_A", "value": value("sk-strict"), "bogus": 1})
	checkEnvelope(t, r, 422, "validation_error", "bogus")
	if got := kvTree(t, e.root, user); got != empty {
		t.Fatalf("a refused create wrote to Vault:\nbefore %s\nafter  %s", empty, got)
	}

	// The documented bodies work.
	id := str(t, secretOf(t, c.do("POST", "/api/v1/user/secrets", map[string]any{"name": "STRICT_A", "value": value("sk-strict"), "provider": nil})), "id")
	wantStatus(t, c.do("POST", "/api/v1/user/secrets/preset", map[string]any{"provider": "openai", "value": value("sk-strict")}), 201)
	wantStatus(t, c.do("PUT", "/api/v1/user/secrets/"+id, map[string]any{"value": value("sk-strict")}), 200)
	tree := kvTree(t, e.root, user)

	checkEnvelope(t, c.do("PUT", "/api/v1/user/secrets/"+id, map[string]any{"value": value("sk-strict"), "name": "X", "ttl": "1h"}), 422, "validation_error", "name", "ttl")
	checkEnvelope(t, c.do("POST", "/api/v1/runtimes", map[string]any{"project_id": "p1", "secret_ids": []string{id}, "wrap_ttl": "2h"}), 422, "validation_error", "wrap_ttl")
	checkEnvelope(t, c.do("POST", "/api/v1/evaluations", map[string]any{"project_id": "p1", "secret_ids": []string{id},
		"items": []map[string]any{{"name": "a"}, {"name": "b", "nme": "c"}}}), 422, "validation_error", "items[1].nme")
	if got := kvTree(t, e.root, user); got != tree {
		t.Fatalf("refused requests changed Vault:\nbefore %s\nafter  %s", tree, got)
	}
	r = c.do("GET", "/api/v1/runtimes", nil)
	wantStatus(t, r, 200)
	if n := num(t, decodeObj(t, r), "total"); n != 0 {
		t.Fatalf("a refused POST /runtimes created %d runtimes", n)
	}
	wantStatus(t, c.do("POST", "/api/v1/runtimes", map[string]any{"project_id": "p1", "name": "dev", "secret_ids": []string{id}}), 201)
}
