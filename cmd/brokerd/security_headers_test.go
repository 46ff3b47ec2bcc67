package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/acme/secretsbroker/internal/testenv"
)

// wantSecurityHeaders are set on every answer of the broker, whatever its
// status or route.
var wantSecurityHeaders = map[string]string{
	"Cache-Control":           "no-store",
	"Pragma":                  "no-cache",
	"X-Content-Type-Options":  "nosniff",
	"X-Frame-Options":         "DENY",
	"Referrer-Policy":         "no-referrer",
	"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}

func checkSecurityHeaders(t *testing.T, what string, h http.Header, cors bool) {
	t.Helper()
	for k, v := range wantSecurityHeaders {
		if got := h.Get(k); got != v {
			t.Errorf("%s: %s = %q, want %q", what, k, got, v)
		}
	}
	for k := range h {
		lk := strings.ToLower(k)
		if !cors && strings.HasPrefix(lk, "access-control-") {
			t.Errorf("%s: CORS header %s without CORS configured", what, k)
		}
		if lk == "server" || lk == "x-powered-by" {
			t.Errorf("%s: %s header names the software: %q", what, k, h.Get(k))
		}
	}
}

// TestSecurityHeadersOnEveryAnswer: every kind of answer (2xx, 401, 404 for
// a route and for an id, 405, 413, 415 or 422, 429, a 503 from /readyz with
// Vault down, /metrics, /openapi.json, a CORS preflight) carries the security
// headers and no CORS header unless configured.
func TestSecurityHeadersOnEveryAnswer(t *testing.T) {
	e := newAPIEnv(t)
	b := e.broker(false, map[string]string{"BROKER_RATE_PER_MINUTE": "60", "BROKER_RATE_BURST": "15"})
	_, key := e.user("hdrs")
	c := e.client(b, key)
	origin := "https://app.example.com"
	type req struct {
		method, path string
		body         any
		key          string
	}
	created := c.do("POST", "/api/v1/user/secrets", map[string]any{"name": "HDR", "value": value("sk-hdr")})
	id := str(t, secretOf(t, created), "id")
	checkSecurityHeaders(t, "POST /api/v1/user/secrets", created.Header, false)
	big := strings.Repeat("x", 2<<20)
	seen := map[int]bool{created.Status: true}
	for _, r := range []req{
		{"GET", "/healthz", nil, ""},
		{"GET", "/readyz", nil, ""},
		{"GET", "/metrics", nil, ""},
		{"GET", "/openapi.json", nil, ""},
		{"GET", "/api/v1/user/secrets", nil, key},
		{"GET", "/api/v1/user/secrets/" + id, nil, key},
		{"GET", "/api/v1/user/secrets/" + id + "/versions", nil, key},
		{"PUT", "/api/v1/user/secrets/" + id, map[string]any{"value": value("sk-hdr-2")}, key},
		{"GET", "/api/v1/user/secrets", nil, ""},
		{"GET", "/api/v1/user/secrets", nil, "sbk_" + randHex(20)},
		{"GET", "/api/v1/nope", nil, key},
		{"GET", "/api/v1/user/secrets/0b9a3c1e-5f2d-4e6a-9b8c-7d6e5f4a3b2c", nil, key},
		{"PATCH", "/api/v1/user/secrets", map[string]any{}, key},
		{"POST", "/api/v1/user/secrets", "{not json", key},
		{"POST", "/api/v1/user/secrets", map[string]any{"name": "BIG", "value": big}, key},
		{"DELETE", "/api/v1/user/secrets/" + id, nil, key},
	} {
		var res response
		res, _ = c.withKey(r.key).try(r.method, r.path, r.body, "Origin", origin)
		if res.Status == 0 {
			t.Fatalf("%s %s: no answer", r.method, r.path)
		}
		seen[res.Status] = true
		checkSecurityHeaders(t, r.method+" "+r.path, res.Header, false)
	}
	// 429 from the per-key limit.
	for i := 0; i < 40; i++ {
		res, _ := c.try("GET", "/api/v1/user/secrets/presets", nil)
		if res.Status == 429 {
			seen[429] = true
			checkSecurityHeaders(t, "429", res.Header, false)
			break
		}
	}
	pre := preflight(t, b.URL, origin)
	checkSecurityHeaders(t, "OPTIONS preflight", pre.Header, false)

	// 503 from /readyz and from the API with Vault down.
	v := testenv.StartVault(t)
	cfg := setupVault(t, v)
	// Calls are retried until the request's deadline: keep it short.
	down := startBroker(t, cfg, map[string]string{"BROKER_REQUEST_TIMEOUT": "2s"})
	dkey := newAPIKey(t, v, "hdrs-down")
	planted.add("api key", dkey)
	v.Stop(t)
	dc := &apiClient{t: t, base: down.URL, key: dkey, hc: &http.Client{Timeout: 60 * time.Second}, bodies: &testenv.SyncBuffer{}}
	for _, p := range []string{"/readyz", "/api/v1/user/secrets"} {
		res, _ := dc.try("GET", p, nil)
		seen[res.Status] = true
		if res.Status != 503 {
			t.Errorf("GET %s with Vault down: %d %s", p, res.Status, res.Body)
		}
		checkSecurityHeaders(t, "503 "+p, res.Header, false)
	}
	for _, s := range []int{200, 201, 204, 401, 404, 413, 429, 503} {
		if !seen[s] {
			t.Errorf("no answer with status %d was checked", s)
		}
	}
}
