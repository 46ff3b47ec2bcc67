package main

import "testing"

// TestAPINameCaseAcrossReplicas: names that differ only in letter case are
// one name. With OPENAI_API_KEY created through one replica, a create of
// openai_api_key (or Openai_Api_Key) through the other, and a preset create
// whose env var is the taken name, answer 409 conflict; nothing is created.
// The case-folded name reservation decides, so two replicas agree.
func TestAPINameCaseAcrossReplicas(t *testing.T) {
	e := newAPIEnv(t)
	b1, b2 := e.broker(true, nil), e.broker(true, nil)
	_, key := e.user("namecase")
	c1, c2 := e.client(b1, key), e.client(b2, key)

	wantStatus(t, c1.do("POST", "/api/v1/user/secrets", map[string]any{"name": "OPENAI_API_KEY", "value": value("sk-case-1")}), 201)
	for _, name := range []string{"openai_api_key", "Openai_Api_Key", "OPENAI_API_KEY"} {
		r := c2.do("POST", "/api/v1/user/secrets", map[string]any{"name": name, "value": value("sk-case-2")})
		checkEnvelope(t, r, 409, "conflict")
	}
	// A lower-case create first, then the preset (OPENAI_API_KEY's env var
	// is upper-case) through the other replica.
	wantStatus(t, c1.do("POST", "/api/v1/user/secrets", map[string]any{"name": "anthropic_api_key", "value": value("sk-case-3")}), 201)
	r := c2.do("POST", "/api/v1/user/secrets/preset", map[string]any{"provider": "anthropic", "value": value("sk-case-4")})
	checkEnvelope(t, r, 409, "conflict")
	r = c2.do("POST", "/api/v1/user/secrets/preset", map[string]any{"provider": "openai", "value": value("sk-case-5")})
	checkEnvelope(t, r, 409, "conflict")
	l := decodeObj(t, c2.do("GET", "/api/v1/user/secrets", nil))
	if got := num(t, l, "total"); got != 2 {
		t.Fatalf("%d secrets after the conflicts, want 2: %v", got, l)
	}
	// Deleting frees every spelling.
	id := ""
	for _, s := range arr(t, l, "secrets") {
		if m := s.(map[string]any); m["name"] == "OPENAI_API_KEY" {
			id = m["id"].(string)
		}
	}
	wantStatus(t, c1.do("DELETE", "/api/v1/user/secrets/"+id, nil), 204)
	wantStatus(t, c2.do("POST", "/api/v1/user/secrets", map[string]any{"name": "openai_api_key", "value": value("sk-case-6")}), 201)
}
