package main

import (
	"strings"
	"sync"
	"testing"
)

// TestAPITwoReplicas: two brokerd processes on one Vault and one Redis behave
// as one. A write through one is in the other's next list (its list cache,
// warmed first, is invalidated); an Idempotency-Key retried against the other
// replica creates nothing and replays the first answer; the same key with a
// different body is refused.
func TestAPITwoReplicas(t *testing.T) {
	e := newAPIEnv(t)
	b1, b2 := e.broker(true, nil), e.broker(true, nil)
	_, key := e.user("replica")
	c1, c2 := e.client(b1, key), e.client(b2, key)

	total := func(c *apiClient) int {
		t.Helper()
		r := c.do("GET", "/api/v1/user/secrets", nil)
		wantStatus(t, r, 200)
		return num(t, decodeObj(t, r), "total")
	}
	// Warm both replicas' view (the list cache is shared in Redis).
	if total(c1) != 0 || total(c2) != 0 {
		t.Fatal("fresh user has secrets")
	}
	r := c1.do("POST", "/api/v1/user/secrets", map[string]any{"name": "FIRST", "value": value("sk-rep-1")})
	wantStatus(t, r, 201)
	id := str(t, secretOf(t, r), "id")
	if got := total(c2); got != 1 {
		t.Fatalf("replica 2 lists %d after a create through replica 1", got)
	}
	total(c2) // cached now
	r = c1.do("PUT", "/api/v1/user/secrets/"+id, map[string]any{"value": value("sk-rep-1-rotated")})
	wantStatus(t, r, 200)
	rot := secretOf(t, r)
	l := decodeObj(t, c2.do("GET", "/api/v1/user/secrets", nil))
	if got := arr(t, l, "secrets")[0].(map[string]any); got["version"] != float64(2) || got["masked_value"] != rot["masked_value"] {
		t.Fatalf("replica 2 lists a stale secret after a rotate through replica 1: %v", got)
	}
	wantStatus(t, c2.do("DELETE", "/api/v1/user/secrets/"+id, nil), 204)
	if got := total(c1); got != 0 {
		t.Fatalf("replica 1 lists %d after a delete through replica 2", got)
	}

	// Idempotency across replicas: create.
	body := map[string]any{"name": "IDEMPOTENT", "value": value("sk-idem")}
	ik := "idem-" + randHex(8)
	first := c1.do("POST", "/api/v1/user/secrets", body, "Idempotency-Key", ik)
	wantStatus(t, first, 201)
	if first.Header.Get("Idempotent-Replayed") != "" {
		t.Fatal("a first answer is marked replayed")
	}
	for _, c := range []*apiClient{c2, c1, c2} {
		again := c.do("POST", "/api/v1/user/secrets", body, "Idempotency-Key", ik)
		wantStatus(t, again, 201)
		if again.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("retry not marked Idempotent-Replayed: %v", again.Header)
		}
		if string(again.Body) != string(first.Body) {
			t.Errorf("replay differs:\nfirst %s\nretry %s", first.Body, again.Body)
		}
	}
	if got := total(c1); got != 1 {
		t.Fatalf("%d secrets after retries, want 1", got)
	}
	// Same key, different body: 422, nothing created.
	other := map[string]any{"name": "IDEMPOTENT_TWO", "value": value("sk-idem-other")}
	r = c2.do("POST", "/api/v1/user/secrets", other, "Idempotency-Key", ik)
	checkEnvelope(t, r, 422, "validation_error", "Idempotency-Key")
	if got := total(c2); got != 1 {
		t.Fatalf("%d secrets after a reused key, want 1", got)
	}
	// The key is scoped to the route: the same key on another POST is fresh.
	r = c2.do("POST", "/api/v1/user/secrets/preset", map[string]any{"provider": "anthropic", "value": value("sk-idem-preset")}, "Idempotency-Key", ik)
	wantStatus(t, r, 201)
	if r.Header.Get("Idempotent-Replayed") != "" {
		t.Error("an Idempotency-Key replayed across routes")
	}
	// A 4xx first answer is kept and replayed too (on the other replica).
	ik2 := "idem-" + randHex(8)
	dup := map[string]any{"name": "IDEMPOTENT", "value": value("sk-idem-dup")}
	r = c1.do("POST", "/api/v1/user/secrets", dup, "Idempotency-Key", ik2)
	checkEnvelope(t, r, 409, "conflict")
	r2 := c2.do("POST", "/api/v1/user/secrets", dup, "Idempotency-Key", ik2)
	if r2.Status != 409 || string(r2.Body) != string(r.Body) || r2.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replayed 409: %d %s", r2.Status, r2.Body)
	}

	// Idempotency across replicas: runtime. The replay carries the runtime
	// but never the bootstrap token.
	sec := arr(t, decodeObj(t, c1.do("GET", "/api/v1/user/secrets", nil)), "secrets")[0].(map[string]any)
	rtBody := map[string]any{"project_id": "proj-rep", "name": "rt", "secret_ids": []string{str(t, sec, "id")}}
	ik3 := "idem-rt-" + randHex(8)
	rfirst := c1.do("POST", "/api/v1/runtimes", rtBody, "Idempotency-Key", ik3)
	wantStatus(t, rfirst, 201)
	rt := decodeObj(t, rfirst)
	tok := str(t, obj(t, obj(t, rt, "sandbox"), "bootstrap"), "token")
	planted.add("bootstrap token", tok)
	rre := c2.do("POST", "/api/v1/runtimes", rtBody, "Idempotency-Key", ik3)
	wantStatus(t, rre, 201)
	if rre.Header.Get("Idempotent-Replayed") != "true" {
		t.Error("runtime retry not replayed")
	}
	re := decodeObj(t, rre)
	if re["id"] != rt["id"] {
		t.Errorf("replay made a new runtime: %v vs %v", re["id"], rt["id"])
	}
	if strings.Contains(string(rre.Body), tok) {
		t.Error("the replayed runtime carries the bootstrap token")
	}
	if bs := obj(t, obj(t, re, "sandbox"), "bootstrap"); bs["token"] != nil {
		t.Errorf("replayed bootstrap has a token field: %v", bs)
	}
	l = decodeObj(t, c2.do("GET", "/api/v1/runtimes", nil))
	if num(t, l, "total") != 1 {
		t.Errorf("%v runtimes after a retried create, want 1", l["total"])
	}
}

// TestAPIConcurrentIdempotentRetries: 10 simultaneous copies of one POST with
// one Idempotency-Key, spread over two replicas, create exactly one secret;
// every answer is the first answer (201, replayed or not) or a 409 saying the
// key is still in progress.
func TestAPIConcurrentIdempotentRetries(t *testing.T) {
	e := newAPIEnv(t)
	b1, b2 := e.broker(true, nil), e.broker(true, nil)
	_, key := e.user("idemrace")
	c1, c2 := e.client(b1, key), e.client(b2, key)
	body := map[string]any{"name": "ONCE_ONLY", "value": value("sk-idem-race")}
	ik := "race-" + randHex(8)
	const n = 10
	res := make([]response, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		c := []*apiClient{c1, c2}[i%2]
		wg.Go(func() {
			<-start
			res[i], errs[i] = c.try("POST", "/api/v1/user/secrets", body, "Idempotency-Key", ik)
		})
	}
	close(start)
	wg.Wait()
	var created []byte
	fresh := 0
	for i, r := range res {
		if errs[i] != nil {
			t.Errorf("request %d: %v", i, errs[i])
		}
		switch r.Status {
		case 201:
			if r.Header.Get("Idempotent-Replayed") != "true" {
				fresh++
			}
			if created != nil && string(created) != string(r.Body) {
				t.Errorf("two different 201 answers:\n%s\n%s", created, r.Body)
			}
			created = r.Body
		case 409:
			m := checkEnvelope(t, r, 409, "conflict")
			if !strings.Contains(str(t, m, "detail"), "Idempotency-Key") {
				t.Errorf("409 that is not about the key in progress: %s", r.Body)
			}
		default:
			t.Errorf("request %d: %d %s", i, r.Status, r.Body)
		}
	}
	if fresh != 1 {
		t.Errorf("%d requests ran (not replayed), want exactly 1", fresh)
	}
	l := decodeObj(t, c1.do("GET", "/api/v1/user/secrets", nil))
	if num(t, l, "total") != 1 {
		t.Fatalf("%v secrets, want 1", l["total"])
	}
	// Once the first finished, a retry replays it.
	r := c2.do("POST", "/api/v1/user/secrets", body, "Idempotency-Key", ik)
	if r.Status != 201 || r.Header.Get("Idempotent-Replayed") != "true" || (created != nil && string(r.Body) != string(created)) {
		t.Errorf("retry after the race: %d %v %s", r.Status, r.Header.Get("Idempotent-Replayed"), r.Body)
	}
}
