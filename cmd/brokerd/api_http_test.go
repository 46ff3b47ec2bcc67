package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/acme/secretsbroker/internal/testenv"
	"github.com/acme/secretsbroker/vaultx"
)

// TestAPIOperationalRoutes: healthz, readyz and unknown routes answer the
// documented shapes; unknown routes and methods answer the error envelope.
func TestAPIOperationalRoutes(t *testing.T) {
	e := newAPIEnv(t)
	b := e.broker(true, nil)
	_, key := e.user("ops")
	anon := e.client(b, "")
	c := e.client(b, key)

	r := anon.do("GET", "/healthz", nil)
	wantStatus(t, r, 200)
	checkKeys(t, "healthz", decodeObj(t, r), "status")
	r = anon.do("GET", "/readyz", nil)
	wantStatus(t, r, 200)
	m := decodeObj(t, r)
	if m["status"] != "ready" || obj(t, obj(t, m, "checks"), "vault")["status"] != "ok" || obj(t, obj(t, m, "checks"), "redis")["status"] != "ok" {
		t.Errorf("readyz: %s", r.Body)
	}
	r = newClient(t, b.AdminURL, "").do("GET", "/metrics", nil)
	wantStatus(t, r, 200)
	if !strings.Contains(string(r.Body), "broker_http_requests_total") {
		t.Errorf("metrics without broker_http_requests_total")
	}
	checkEnvelope(t, anon.do("GET", "/nope", nil), 404, "not_found")
	checkEnvelope(t, c.do("GET", "/api/v1/nope", nil), 404, "not_found")
	r = c.do("PATCH", "/api/v1/user/secrets", map[string]any{})
	checkEnvelope(t, r, 405, "method_not_allowed")
	if got := r.Header.Get("Allow"); got != "GET, POST, OPTIONS" {
		t.Errorf("PATCH /api/v1/user/secrets: Allow %q", got)
	}
	// Without a broker-side request id, one is made; a well-formed one is kept.
	r = c.do("GET", "/api/v1/user/secrets", nil, "X-Request-Id", "req-"+randHex(8))
	if !strings.HasPrefix(r.Header.Get("X-Request-Id"), "req-") {
		t.Errorf("X-Request-Id not echoed: %q", r.Header.Get("X-Request-Id"))
	}
	if r := c.do("GET", "/api/v1/user/secrets", nil); len(r.Header.Get("X-Request-Id")) < 8 {
		t.Errorf("no request id made: %v", r.Header)
	}
}

// TestAPISecurityHeaders: Cache-Control: no-store on every answer (every
// answer of every API test goes through the same check) and no CORS headers
// unless configured; with BROKER_CORS_ORIGINS only the listed origin is allowed.
func TestAPISecurityHeaders(t *testing.T) {
	e := newAPIEnv(t)
	plain := e.broker(true, nil)
	_, key := e.user("hdr")
	c := e.client(plain, key)
	origin := "https://app.example.com"
	for _, p := range []string{"/api/v1/user/secrets", "/healthz", "/openapi.json", "/nope"} {
		r := c.do("GET", p, nil, "Origin", origin)
		for _, h := range []string{"X-Content-Type-Options", "X-Frame-Options"} {
			if r.Header.Get(h) == "" {
				t.Errorf("GET %s: no %s", p, h)
			}
		}
	}
	checkEnvelope(t, c.withKey("").do("GET", "/api/v1/user/secrets", nil, "Origin", origin), 401, "authentication_error")
	pre := preflight(t, plain.URL, origin)
	for k := range pre.Header {
		if strings.HasPrefix(strings.ToLower(k), "access-control-") {
			t.Errorf("preflight without CORS configured answered %s", k)
		}
	}

	cors := e.broker(true, map[string]string{"BROKER_CORS_ORIGINS": origin})
	cc := e.client(cors, key)
	cc.cors = true
	r := cc.do("GET", "/api/v1/user/secrets", nil, "Origin", origin)
	wantStatus(t, r, 200)
	if got := r.Header.Get("Access-Control-Allow-Origin"); got != origin {
		t.Errorf("allowed origin: Access-Control-Allow-Origin %q", got)
	}
	r = cc.do("GET", "/api/v1/user/secrets", nil, "Origin", "https://evil.example.net")
	if got := r.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("other origin: Access-Control-Allow-Origin %q", got)
	}
	pre = preflight(t, cors.URL, origin)
	if pre.Header.Get("Access-Control-Allow-Origin") != origin || pre.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("preflight: %d %v", pre.StatusCode, pre.Header)
	}
}

func preflight(t *testing.T, base, origin string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodOptions, base+"/api/v1/user/secrets", nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "X-API-Key, Content-Type")
	res, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

// TestAPIRedisDown: with Redis stopped, secrets still work (Vault is the
// truth) and readiness says degraded, but a POST with an Idempotency-Key is
// refused with 503 (without the store a retry could create twice).
func TestAPIRedisDown(t *testing.T) {
	e := newAPIEnv(t)
	r := testenv.StartRedis(t)
	b := e.brokerOn(r, nil)
	_, key := e.user("redisdown")
	c := e.client(b, key)
	wantStatus(t, c.do("GET", "/api/v1/user/secrets", nil), 200)
	r.Stop(t)
	defer r.Start(t) // for the leak dump at the end

	res := c.do("POST", "/api/v1/user/secrets", map[string]any{"name": "DURING_OUTAGE", "value": value("sk-outage")}, "Idempotency-Key", "ik-"+randHex(6))
	checkEnvelope(t, res, 503, "unavailable")
	res = c.do("POST", "/api/v1/user/secrets", map[string]any{"name": "DURING_OUTAGE", "value": value("sk-outage-2")})
	wantStatus(t, res, 201)
	l := decodeObj(t, c.do("GET", "/api/v1/user/secrets", nil))
	if num(t, l, "total") != 1 {
		t.Errorf("list during the outage: %v", l)
	}
	ready := decodeObj(t, c.do("GET", "/readyz", nil))
	if ready["status"] != "degraded" || obj(t, obj(t, ready, "checks"), "redis")["status"] != "unavailable" {
		t.Errorf("readyz during the outage: %v", ready)
	}
}

// TestAPIInternalError: a corrupt record in Vault answers 500 with the
// generic envelope (no cause, no data) and a request id to find it in the logs.
func TestAPIInternalError(t *testing.T) {
	e := newAPIEnv(t)
	b := e.broker(true, nil)
	user, key := e.user("corrupt")
	c := e.client(b, key)
	id := str(t, secretOf(t, c.do("POST", "/api/v1/user/secrets", map[string]any{"name": "CORRUPT", "value": value("sk-corrupt")})), "id")
	// A second version whose data is not what the broker writes.
	_, err := e.root.Logical().Write(vaultx.DefaultKVMount+"/data/users/"+user+"/secrets/"+id, map[string]any{"data": map[string]any{"ciphertext": 12345}})
	if err != nil {
		t.Fatal(err)
	}
	reqID := "corrupt-" + randHex(6)
	r := c.do("GET", "/api/v1/user/secrets/"+id, nil, "X-Request-Id", reqID)
	m := checkEnvelope(t, r, 500, "internal_error")
	if d := str(t, m, "detail"); strings.Contains(d, "decode") || strings.Contains(d, "vault") {
		t.Errorf("500 detail shows the cause: %q", d)
	}
	if r.Header.Get("X-Request-Id") != reqID {
		t.Errorf("request id %q", r.Header.Get("X-Request-Id"))
	}
	logs := b.Logs.String()
	if !strings.Contains(logs, reqID) || !strings.Contains(logs, `"request failed"`) {
		t.Errorf("the 500 is not logged with its request id")
	}
}
