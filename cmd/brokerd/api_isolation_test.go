package main

import (
	"testing"
)

// TestAPIIsolation: on every endpoint that takes an id, another user's id
// answers byte for byte like an id that does not exist (same status, same
// body), and the other user's data is untouched.
func TestAPIIsolation(t *testing.T) {
	e := newAPIEnv(t)
	b := e.broker(true, nil)
	_, keyA := e.user("alice")
	_, keyB := e.user("bob")
	a, bob := e.client(b, keyA), e.client(b, keyB)

	r := a.do("POST", "/api/v1/user/secrets", map[string]any{"name": "ALICE_KEY", "value": value("sk-alice")})
	wantStatus(t, r, 201)
	secA := secretOf(t, r)
	sid := str(t, secA, "id")
	r = a.do("POST", "/api/v1/runtimes", map[string]any{"project_id": "proj-a", "name": "rt", "secret_ids": []string{sid}})
	wantStatus(t, r, 201)
	rid := str(t, decodeObj(t, r), "id")
	r = a.do("POST", "/api/v1/evaluations", map[string]any{"project_id": "proj-a", "secret_ids": []string{sid}, "items": []any{map[string]any{"name": "i1"}}})
	wantStatus(t, r, 201)
	eid := str(t, decodeObj(t, r), "id")
	// Bob has a secret of his own, so his secret ids are not all absent.
	wantStatus(t, bob.do("POST", "/api/v1/user/secrets", map[string]any{"name": "BOB_KEY", "value": value("sk-bob")}), 201)

	overwrite := value("sk-bob-overwrite")
	unknown := "0b9a3c1e-5f2d-4e6a-9b8c-7d6e5f4a3b2c"
	type call struct {
		method, path string
		body         any
	}
	calls := func(secret, runtime, eval string) []call {
		return []call{
			{"GET", "/api/v1/user/secrets/" + secret, nil},
			{"PUT", "/api/v1/user/secrets/" + secret, map[string]any{"value": overwrite}},
			{"GET", "/api/v1/user/secrets/" + secret + "/versions", nil},
			{"POST", "/api/v1/user/secrets/" + secret + "/rollback", map[string]any{"version": 1}},
			{"DELETE", "/api/v1/user/secrets/" + secret, nil},
			{"GET", "/api/v1/runtimes/" + runtime, nil},
			{"POST", "/api/v1/runtimes/" + runtime + "/restart", map[string]any{}},
			{"DELETE", "/api/v1/runtimes/" + runtime, nil},
			{"GET", "/api/v1/evaluations/" + eval, nil},
			// Provisioning with someone else's secret id.
			{"POST", "/api/v1/runtimes", map[string]any{"project_id": "proj-b", "secret_ids": []string{secret}}},
			{"POST", "/api/v1/evaluations", map[string]any{"project_id": "proj-b", "secret_ids": []string{secret}, "items": []any{map[string]any{"name": "x"}}}},
			{"POST", "/api/v1/runtimes", map[string]any{"project_id": "proj-b", "secret_ids": []string{secret}}},
		}
	}
	theirs, absent, malformed := calls(sid, rid, eid), calls(unknown, unknown, unknown), calls("not-a-uuid", "not-a-uuid", "not-a-uuid")
	for i := range theirs {
		rt := bob.do(theirs[i].method, theirs[i].path, theirs[i].body)
		ru := bob.do(absent[i].method, absent[i].path, absent[i].body)
		rm := bob.do(malformed[i].method, malformed[i].path, malformed[i].body)
		if rt.Status != 404 {
			t.Errorf("%s %s with alice's id: %d %s, want 404", theirs[i].method, theirs[i].path, rt.Status, rt.Body)
		}
		checkEnvelope(t, rt, 404, "not_found")
		if rt.Status != ru.Status || string(rt.Body) != string(ru.Body) {
			t.Errorf("%s %s: alice's id answers %d %s, an unknown id %d %s", theirs[i].method, theirs[i].path, rt.Status, rt.Body, ru.Status, ru.Body)
		}
		if rt.Status != rm.Status || string(rt.Body) != string(rm.Body) {
			t.Errorf("%s %s: alice's id answers %d %s, a malformed id %d %s", theirs[i].method, theirs[i].path, rt.Status, rt.Body, rm.Status, rm.Body)
		}
		for _, h := range []string{"Content-Type", "Cache-Control"} {
			if rt.Header.Get(h) != ru.Header.Get(h) {
				t.Errorf("%s %s: header %s differs: %q vs %q", theirs[i].method, theirs[i].path, h, rt.Header.Get(h), ru.Header.Get(h))
			}
		}
	}

	// Alice's things are untouched.
	g := secretOf(t, a.do("GET", "/api/v1/user/secrets/"+sid, nil))
	if g["version"] != secA["version"] || g["fingerprint"] != secA["fingerprint"] {
		t.Errorf("alice's secret changed: %v -> %v", secA, g)
	}
	rt := decodeObj(t, a.do("GET", "/api/v1/runtimes/"+rid, nil))
	if num(t, rt, "restarts") != 0 {
		t.Errorf("alice's runtime was restarted by bob: %v", rt)
	}
	wantStatus(t, a.do("GET", "/api/v1/evaluations/"+eid, nil), 200)
	// Bob's lists do not show alice's things.
	l := decodeObj(t, bob.do("GET", "/api/v1/user/secrets", nil))
	if num(t, l, "total") != 1 || arr(t, l, "secrets")[0].(map[string]any)["name"] != "BOB_KEY" {
		t.Errorf("bob's list: %v", l)
	}
	rl := decodeObj(t, bob.do("GET", "/api/v1/runtimes", nil))
	if num(t, rl, "total") != 0 {
		t.Errorf("bob sees runtimes: %v", rl)
	}
}
