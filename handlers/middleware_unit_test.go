package handlers

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acme/secretsbroker/broker"
)

// TestAPIKeyHeaders: the key is read from X-API-Key or Authorization:
// Bearer (any case of the scheme); anything else is 401 without a lookup.
func TestAPIKeyHeaders(t *testing.T) {
	for name, tc := range map[string]struct {
		hdr    []string
		status int
	}{
		"x-api-key":        {[]string{"X-API-Key", testKey}, 200},
		"bearer":           {[]string{"X-API-Key", "", "Authorization", "Bearer " + testKey}, 200},
		"bearer lowercase": {[]string{"X-API-Key", "", "Authorization", "bearer " + testKey}, 200},
		"missing":          {[]string{"X-API-Key", ""}, 401},
		"basic scheme":     {[]string{"X-API-Key", "", "Authorization", "Basic " + testKey}, 401},
		"bearer only":      {[]string{"X-API-Key", "", "Authorization", "Bearer "}, 401},
		"unknown key":      {[]string{"X-API-Key", "sbk_unknown-key-0123456789abcdef"}, 401},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, Config{})
			rec := h.do(t, "GET", "/api/v1/user/secrets", "", tc.hdr...)
			if tc.status == 200 {
				if rec.Code != 200 || h.svc.last(t).UserID != testUser {
					t.Fatalf("%d %s", rec.Code, rec.Body)
				}
				return
			}
			env := wantEnvelope(t, rec, http.StatusUnauthorized, "authentication_error")
			if len(h.svc.Calls()) != 0 {
				t.Fatalf("an unauthenticated request reached the service")
			}
			if strings.Contains(rec.Body.String(), "unknown-key") {
				t.Fatalf("the answer echoes the key: %s", rec.Body)
			}
			if tc.hdr[len(tc.hdr)-1] == "" && !strings.Contains(env.Detail, "missing API key") {
				t.Fatalf("detail %q does not say the key is missing", env.Detail)
			}
		})
	}
}

// TestAuthFailuresAreLimited: failed authentications count against the
// client address; once its limit is spent they answer 429 with Retry-After.
// A store outage is 503 and does not count as a failed guess.
func TestAuthFailuresAreLimited(t *testing.T) {
	h := newHarness(t, Config{})
	h.do(t, "GET", "/api/v1/user/secrets", "", "X-API-Key", "sbk_wrong-key-0123456789abcdef")
	if keys := h.authFail.Keys(); len(keys) == 0 || !strings.HasPrefix(keys[len(keys)-1], "authfail:") {
		t.Fatalf("failed authentication not counted per address: %v", keys)
	}
	if slices.Contains(h.authFail.Keys(), "authfail:") {
		t.Fatalf("no client address in the limiter key: %v", h.authFail.Keys())
	}
	h.authFail.decision = broker.Decision{Allowed: false, RetryAfter: 2500 * time.Millisecond}
	rec := h.do(t, "GET", "/api/v1/user/secrets", "", "X-API-Key", "sbk_wrong-key-0123456789abcdef")
	wantEnvelope(t, rec, http.StatusTooManyRequests, "rate_limited")
	if ra := rec.Header().Get("Retry-After"); ra != "3" {
		t.Fatalf("Retry-After %q, want 3 (rounded up)", ra)
	}

	h = newHarness(t, Config{})
	h.auth.err = broker.Errorf(broker.CodeUnavailable, "API keys are unavailable")
	wantEnvelope(t, h.do(t, "GET", "/api/v1/user/secrets", ""), http.StatusServiceUnavailable, "unavailable")
	if n := len(h.limiter.Keys()); n != 0 {
		t.Fatalf("the per-key limit was charged for a request that did not authenticate: %d", n)
	}
	if len(h.svc.Calls()) != 0 {
		t.Fatalf("an unauthenticated request reached the service")
	}
}

// TestRateLimit: the per-key limit uses the key's hash as bucket, reports
// X-RateLimit-Remaining, and when spent answers 429 rate_limited with
// Retry-After in whole seconds (at least 1) without calling the service.
func TestRateLimit(t *testing.T) {
	h := newHarness(t, Config{})
	rec := h.do(t, "GET", "/api/v1/user/secrets", "")
	if rec.Code != 200 || rec.Header().Get("X-RateLimit-Remaining") != "9" {
		t.Fatalf("allowed: %d, remaining %q", rec.Code, rec.Header().Get("X-RateLimit-Remaining"))
	}
	if keys := h.limiter.Keys(); !slices.Equal(keys, []string{"key:" + broker.HashAPIKey(testKey)}) {
		t.Fatalf("limiter keys %v, want the key's hash", keys)
	}
	for _, tc := range []struct {
		after time.Duration
		want  string
	}{{0, "1"}, {time.Millisecond, "1"}, {time.Second, "1"}, {1001 * time.Millisecond, "2"}, {42 * time.Second, "42"}} {
		h.limiter.decision = broker.Decision{Allowed: false, Remaining: -3, RetryAfter: tc.after}
		rec := h.do(t, "GET", "/api/v1/user/secrets", "")
		wantEnvelope(t, rec, http.StatusTooManyRequests, "rate_limited")
		if got := rec.Header().Get("Retry-After"); got != tc.want {
			t.Errorf("RetryAfter %v: Retry-After %q, want %q", tc.after, got, tc.want)
		}
		if got := rec.Header().Get("X-RateLimit-Remaining"); got != "0" {
			t.Errorf("X-RateLimit-Remaining %q, want 0", got)
		}
	}
	if n := len(h.svc.Calls()); n != 1 {
		t.Fatalf("rate limited requests reached the service: %d calls", n)
	}
	// A limiter that cannot answer lets the request through (degraded, logged).
	h.limiter.err = broker.Errorf(broker.CodeUnavailable, "redis down")
	if rec := h.do(t, "GET", "/api/v1/user/secrets", ""); rec.Code != 200 {
		t.Fatalf("limiter down: %d %s", rec.Code, rec.Body)
	}
	if !strings.Contains(h.logs.String(), "rate limiter unavailable") {
		t.Fatalf("degraded limiter not logged: %s", h.logs)
	}
	if m := h.metrics(t); !strings.Contains(m, `broker_rate_limited_total{limiter="api_key"} 5`) {
		t.Fatalf("rate limited requests not counted: %s", grepLines(m, "broker_rate_limited_total"))
	}
}

var hexID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// TestRequestID: a well-formed incoming id is kept, anything else replaced
// by a fresh one; the id is on the answer and on every log line.
func TestRequestID(t *testing.T) {
	h := newHarness(t, Config{})
	rec := h.do(t, "GET", "/api/v1/user/secrets", "", HeaderRequestID, "req-0123456789")
	if got := rec.Header().Get(HeaderRequestID); got != "req-0123456789" {
		t.Fatalf("well-formed id replaced by %q", got)
	}
	seen := map[string]bool{}
	for _, bad := range []string{"", strings.Repeat("a", 65), "has space 0123456789", "semi;colon-0123456789", strings.Repeat("a", 129), "nl\n0123456789"} {
		req := []string{HeaderRequestID, bad}
		if bad == "nl\n0123456789" {
			req = nil // net/http refuses it client-side; covered by the regexp below
		}
		rec := h.do(t, "GET", "/api/v1/user/secrets", "", req...)
		got := rec.Header().Get(HeaderRequestID)
		if !hexID.MatchString(got) || seen[got] {
			t.Errorf("id %q: answered %q, want a fresh 32-hex id", bad, got)
		}
		seen[got] = true
	}
	if requestIDRE.MatchString("nl\n0123456789") {
		t.Fatalf("a request id with a newline is accepted")
	}
	for _, line := range strings.Split(strings.TrimSpace(h.logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		if id, _ := m["request_id"].(string); id == "" {
			t.Fatalf("log line without request_id: %s", line)
		}
	}
}

// TestAccessLog: one line per request, with route template, status and
// user, never the key, the body or the query string.
func TestAccessLog(t *testing.T) {
	h := newHarness(t, Config{})
	rec := h.do(t, "PUT", "/api/v1/user/secrets/"+testID+"?token=hvs.query-secret", `{"value":"sk-body-secret-value"}`)
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	logs := h.logs.String()
	for _, leak := range []string{testKey, "sk-body-secret-value", "hvs.query-secret"} {
		if strings.Contains(logs, leak) {
			t.Fatalf("log carries %q: %s", leak, logs)
		}
	}
	var line map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(logs)), &line); err != nil {
		t.Fatalf("want exactly one JSON line: %q", logs)
	}
	for k, want := range map[string]any{"method": "PUT", "route": "/api/v1/user/secrets/:id", "status": float64(200), "user": testUser, "message": "request", "request_id": rec.Header().Get(HeaderRequestID)} {
		if line[k] != want {
			t.Errorf("log %s = %v, want %v", k, line[k], want)
		}
	}
}

var securityHeaders = map[string]string{
	"Cache-Control":           "no-store",
	"Pragma":                  "no-cache",
	"X-Content-Type-Options":  "nosniff",
	"X-Frame-Options":         "DENY",
	"Referrer-Policy":         "no-referrer",
	"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}

// TestSecurityHeadersEverywhere: success, every kind of error, the public
// routes and a recovered panic all carry the hardening headers.
func TestSecurityHeadersEverywhere(t *testing.T) {
	h := newHarness(t, Config{})
	check := func(what string, hdr http.Header) {
		t.Helper()
		for k, v := range securityHeaders {
			if hdr.Get(k) != v {
				t.Errorf("%s: %s = %q, want %q", what, k, hdr.Get(k), v)
			}
		}
		if hdr.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%s: CORS header without CORS configured", what)
		}
	}
	check("200", h.do(t, "GET", "/api/v1/user/secrets", "").Header())
	check("401", h.do(t, "GET", "/api/v1/user/secrets", "", "X-API-Key", "").Header())
	check("404", h.do(t, "GET", "/nope", "").Header())
	check("405", h.do(t, "POST", "/healthz", "").Header())
	check("413", h.do(t, "POST", "/api/v1/user/secrets", jsonOfSize(MaxBodyBytes+1)).Header())
	check("422", h.do(t, "POST", "/api/v1/user/secrets", "{").Header())
	check("metrics", h.do(t, "GET", "/metrics", "").Header())
	check("healthz", h.do(t, "GET", "/healthz", "", "Origin", "https://evil.example").Header())
	h.svc.panicWith = "boom"
	check("panic", h.do(t, "GET", "/api/v1/user/secrets", "").Header())
	h.svc.panicWith = nil
	h.limiter.decision = broker.Decision{}
	check("429", h.do(t, "GET", "/api/v1/user/secrets", "").Header())
}

// TestCORSOnlyForConfiguredOrigins.
func TestCORSOnlyForConfiguredOrigins(t *testing.T) {
	h := newHarness(t, Config{CORSOrigins: []string{"https://app.example.com"}})
	rec := h.do(t, "GET", "/healthz", "", "Origin", "https://app.example.com")
	if got := rec.Header().Get("Access-Control-Allow-Origin"); got != "https://app.example.com" {
		t.Fatalf("allowed origin: %q", got)
	}
	rec = h.do(t, "GET", "/healthz", "", "Origin", "https://evil.example")
	if got := rec.Header().Get("Access-Control-Allow-Origin"); got != "" {
		t.Fatalf("other origin allowed: %q", got)
	}
}

// TestPanicIsRecoveredWithoutLeaking: a panicking handler answers the
// generic 500 envelope with the request id, the panic value never reaches
// the caller, and the server keeps serving.
func TestPanicIsRecoveredWithoutLeaking(t *testing.T) {
	const secret = "sk-live-panic-0123456789abcdef"
	h := newHarness(t, Config{})
	h.svc.panicWith = "could not handle " + secret
	rec := h.do(t, "GET", "/api/v1/user/secrets", "")
	env := wantEnvelope(t, rec, http.StatusInternalServerError, "internal_error")
	if strings.Contains(rec.Body.String(), secret) || strings.Contains(rec.Body.String(), "goroutine") {
		t.Fatalf("the panic reached the caller: %s", rec.Body)
	}
	if !strings.Contains(env.Detail, "request id") || !hexID.MatchString(rec.Header().Get(HeaderRequestID)) {
		t.Fatalf("detail %q, request id %q", env.Detail, rec.Header().Get(HeaderRequestID))
	}
	h.svc.panicWith = nil
	if rec := h.do(t, "GET", "/api/v1/user/secrets", ""); rec.Code != 200 {
		t.Fatalf("after a panic: %d", rec.Code)
	}
}

// TestPanicIsLoggedOnTheRequestLogger: the panic is one zerolog line with
// the request id and the stack; its value is withheld (it could quote a
// secret) unless it is a runtime error; nothing goes to echo's own logger.
func TestPanicIsLoggedOnTheRequestLogger(t *testing.T) {
	const secret = "sk-live-panic-0123456789abcdef"
	h := newHarness(t, Config{})
	var echoLog syncBuf
	h.srv.e.Logger.SetOutput(&echoLog)
	h.svc.panicWith = "could not handle " + secret
	rec := h.do(t, "GET", "/api/v1/user/secrets", "")
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("%d", rec.Code)
	}
	if echoLog.String() != "" {
		t.Fatalf("the panic went to echo's logger: %.300s", echoLog.String())
	}
	logs := h.logs.String()
	if strings.Contains(logs, secret) {
		t.Fatalf("the panic value was logged: %.500s", logs)
	}
	var line map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["message"] == "handler panicked" {
			line = m
		}
	}
	if line == nil || line["request_id"] != rec.Header().Get(HeaderRequestID) || line["level"] != "error" {
		t.Fatalf("no error line with the request id for the panic: %.500s", logs)
	}
	if st, _ := line["stack"].(string); !strings.Contains(st, "fakeService") || strings.Contains(st, "goroutine 1 ") {
		t.Fatalf("stack is not the panicking goroutine's alone: %.300s", st)
	}

	// A runtime error says what went wrong.
	h.logs = &syncBuf{}
	h.srv.d.Log = h.srv.d.Log.Output(h.logs)
	var m map[string]int
	h.svc.panicWith = func() (err error) {
		defer func() { err = recover().(error) }()
		m["x"] = 1
		return nil
	}()
	h.do(t, "GET", "/api/v1/user/secrets", "")
	if !strings.Contains(h.logs.String(), "assignment to entry in nil map") {
		t.Fatalf("runtime error not named: %.500s", h.logs.String())
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
