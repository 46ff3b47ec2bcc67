package main

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/internal/testenv"
	"github.com/acme/secretsbroker/vaultx"
)

// hitLimit sends requests until one answers 429 and returns how many passed
// before it, and the 429.
func hitLimit(t *testing.T, c *apiClient, max int, method, path string, hdr ...string) (int, response) {
	t.Helper()
	for i := 0; i < max; i++ {
		r := c.do(method, path, nil, hdr...)
		if r.Status == 429 {
			return i, r
		}
	}
	t.Fatalf("no 429 within %d requests", max)
	return 0, response{}
}

func checkRetryAfter(t *testing.T, r response, maxSec int) {
	t.Helper()
	checkEnvelope(t, r, 429, "rate_limited")
	ra, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || ra < 1 || ra > maxSec {
		t.Errorf("Retry-After %q, want whole seconds in [1, %d]", r.Header.Get("Retry-After"), maxSec)
	}
}

// TestAPIRateLimitRedis: the per-API-key limit (GCRA in Redis) answers 429
// with Retry-After after the burst, on both replicas (the budget is shared),
// while another key is unaffected. Wrong API keys hammered from one address
// turn into 429s too, and a valid key still works.
func TestAPIRateLimitRedis(t *testing.T) {
	e := newAPIEnv(t)
	// A private Redis: the failed-authentication budget is per client address
	// (127.0.0.1), which the other tests' brokers on the shared Redis also use.
	r := testenv.StartRedis(t)
	lim := map[string]string{"BROKER_RATE_PER_MINUTE": "5", "BROKER_RATE_BURST": "5", "BROKER_AUTH_FAIL_PER_MINUTE": "3"}
	b1, b2 := e.brokerOn(r, lim), e.brokerOn(r, lim)
	_, key := e.user("rl")
	_, other := e.user("rl2")
	c1, c2 := e.client(b1, key), e.client(b2, key)

	passed, r429 := hitLimit(t, c1, 20, "GET", "/api/v1/user/secrets")
	if passed != 5 {
		t.Errorf("%d requests passed before the first 429, want the burst of 5", passed)
	}
	checkRetryAfter(t, r429, 12)
	// The other replica shares the budget.
	checkRetryAfter(t, c2.do("GET", "/api/v1/user/secrets/presets", nil), 12)
	// POSTs are limited too, and a limited POST writes nothing.
	checkRetryAfter(t, c2.do("POST", "/api/v1/user/secrets", map[string]any{"name": "LIMITED", "value": value("sk-limited")}), 12)
	// Another key is not limited.
	wantStatus(t, c1.withKey(other).do("GET", "/api/v1/user/secrets", nil), 200)
	if l := decodeObj(t, c1.withKey(other).do("GET", "/api/v1/user/secrets", nil)); num(t, l, "total") != 0 {
		t.Errorf("other key's list: %v", l)
	}

	bad := c1.withKey("")
	wrong := "sbk_" + randHex(20)
	planted.add("api key", wrong)
	passed, r429 = hitLimit(t, bad, 20, "GET", "/api/v1/user/secrets", "X-API-Key", wrong)
	if passed != 3 {
		t.Errorf("%d failed authentications before the first 429, want 3", passed)
	}
	checkRetryAfter(t, r429, 20)
	// Across replicas too, and with no key at all.
	checkRetryAfter(t, c2.withKey("").do("GET", "/api/v1/runtimes", nil), 20)
	// The limit is checked before the key is looked up: from this address a
	// valid key is refused too (429 versus 200 would tell a guess's result).
	checkRetryAfter(t, c2.withKey(other).do("GET", "/api/v1/runtimes", nil), 20)
	// A valid key from another address is not locked out by these failures.
	elsewhere := c2.withKey(other)
	elsewhere.hc = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 5 * time.Second}).DialContext,
	}}
	wantStatus(t, elsewhere.do("GET", "/api/v1/runtimes", nil), 200)
}

// TestAPIWithoutRedis: without REDIS_URL one replica has the same features
// in-process: idempotent replay (and refusal of a reused key), list cache
// invalidation, the per-key rate limit and the failed-authentication limit.
func TestAPIWithoutRedis(t *testing.T) {
	e := newAPIEnv(t)
	b := e.broker(false, nil)
	_, key := e.user("inproc")
	c := e.client(b, key)

	if l := decodeObj(t, c.do("GET", "/api/v1/user/secrets", nil)); num(t, l, "total") != 0 {
		t.Fatalf("fresh list: %v", l)
	}
	body := map[string]any{"name": "INPROC", "value": value("sk-inproc")}
	ik := "ik-" + randHex(8)
	first := c.do("POST", "/api/v1/user/secrets", body, "Idempotency-Key", ik)
	wantStatus(t, first, 201)
	again := c.do("POST", "/api/v1/user/secrets", body, "Idempotency-Key", ik)
	wantStatus(t, again, 201)
	if again.Header.Get("Idempotent-Replayed") != "true" || string(again.Body) != string(first.Body) {
		t.Errorf("in-process replay: %v %s", again.Header, again.Body)
	}
	r := c.do("POST", "/api/v1/user/secrets", map[string]any{"name": "INPROC2", "value": value("sk-inproc-2")}, "Idempotency-Key", ik)
	checkEnvelope(t, r, 422, "validation_error", "Idempotency-Key")
	if l := decodeObj(t, c.do("GET", "/api/v1/user/secrets", nil)); num(t, l, "total") != 1 {
		t.Fatalf("list after create and retries: %v", l)
	}
	// Rollback with the same key replays too (idempotent POST on an id route).
	id := str(t, secretOf(t, first), "id")
	wantStatus(t, c.do("PUT", "/api/v1/user/secrets/"+id, map[string]any{"value": value("sk-inproc-rot")}), 200)
	rb := c.do("POST", "/api/v1/user/secrets/"+id+"/rollback", map[string]any{"version": 1}, "Idempotency-Key", ik)
	wantStatus(t, rb, 200)
	rb2 := c.do("POST", "/api/v1/user/secrets/"+id+"/rollback", map[string]any{"version": 1}, "Idempotency-Key", ik)
	if rb2.Header.Get("Idempotent-Replayed") != "true" || string(rb2.Body) != string(rb.Body) {
		t.Errorf("rollback replay: %d %s", rb2.Status, rb2.Body)
	}
	vr := decodeObj(t, c.do("GET", "/api/v1/user/secrets/"+id+"/versions", nil))
	if num(t, vr, "total") != 3 {
		t.Errorf("a replayed rollback wrote again: %v versions", vr["total"])
	}

	lb := e.broker(false, map[string]string{"BROKER_RATE_PER_MINUTE": "5", "BROKER_RATE_BURST": "5", "BROKER_AUTH_FAIL_PER_MINUTE": "3"})
	lc := e.client(lb, key)
	passed, r429 := hitLimit(t, lc, 20, "GET", "/api/v1/user/secrets")
	if passed != 5 {
		t.Errorf("%d passed before the first 429, want 5", passed)
	}
	checkRetryAfter(t, r429, 12)
	wrong := "sbk_" + randHex(20)
	planted.add("api key", wrong)
	passed, r429 = hitLimit(t, lc.withKey(wrong), 20, "GET", "/api/v1/runtimes")
	if passed != 3 {
		t.Errorf("%d failed authentications before the first 429, want 3", passed)
	}
	checkRetryAfter(t, r429, 20)
}

// TestAPIRevokedKey: a key deleted from Vault (apikeys/<sha256>) stops
// working within the auth cache TTL.
func TestAPIRevokedKey(t *testing.T) {
	e := newAPIEnv(t)
	b := e.broker(true, map[string]string{"BROKER_AUTH_CACHE_TTL": "1s"})
	_, key := e.user("revoked")
	c := e.client(b, key)
	wantStatus(t, c.do("GET", "/api/v1/user/secrets", nil), 200)

	vc, err := vaultx.New(context.Background(), vaultx.Config{Addr: e.vault.Addr, Token: e.vault.Token}, nopLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Close()
	hash := broker.HashAPIKey(key)
	if _, err := e.root.Logical().Read(vaultx.DefaultKVMount + "/data/apikeys/" + hash); err != nil {
		t.Fatal(err)
	}
	if err := vc.DeleteAPIKey(context.Background(), hash); err != nil {
		t.Fatal(err)
	}
	revoked := time.Now()
	var last response
	waitFor(t, 5*time.Second, "the revoked key to be refused", func() bool {
		last = c.do("GET", "/api/v1/user/secrets", nil)
		return last.Status == 401
	})
	took := time.Since(revoked)
	checkEnvelope(t, last, 401, "authentication_error")
	if took > 1*time.Second+1500*time.Millisecond {
		t.Errorf("revoked key worked for %s, TTL is 1s", took)
	}
	t.Logf("revoked key refused after %s", took.Round(time.Millisecond))
	// And it stays refused, bearer too.
	checkEnvelope(t, c.asBearer().do("GET", "/api/v1/runtimes", nil), 401, "authentication_error")
}

// TestAPIAuthFailLimitIgnoresForwardedFor: the failed-authentication budget
// is per client address, and a client cannot pick its address with
// X-Forwarded-For or X-Real-IP (a fresh spoofed address per guess would make
// key guessing unlimited).
func TestAPIAuthFailLimitIgnoresForwardedFor(t *testing.T) {
	e := newAPIEnv(t)
	b := e.broker(false, map[string]string{"BROKER_AUTH_FAIL_PER_MINUTE": "3"})
	wrong := "sbk_" + randHex(20)
	planted.add("api key", wrong)
	c := e.client(b, wrong)
	limited := false
	for i := 0; i < 10 && !limited; i++ {
		ip := "203.0.113." + strconv.Itoa(i+1)
		r := c.do("GET", "/api/v1/user/secrets", nil, "X-Forwarded-For", ip, "X-Real-IP", ip)
		limited = r.Status == 429
	}
	if !limited {
		t.Fatal("10 failed authentications with spoofed X-Forwarded-For were never limited")
	}
	if logs := b.Logs.String(); strings.Contains(logs, `"remote":"203.0.113.`) {
		t.Error("the access log records a client-chosen address")
	}
}
