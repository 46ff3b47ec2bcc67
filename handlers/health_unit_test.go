package handlers

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/acme/secretsbroker/broker"
)

func TestHealthz(t *testing.T) {
	h := newHarness(t, Config{})
	rec := h.do(t, "GET", "/healthz", "", "X-API-Key", "")
	if rec.Code != 200 || decode[map[string]string](t, rec)["status"] != "ok" {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}

// TestReadyz: ready when every check answers; degraded (200) when an
// optional one does not; unavailable (503) when a required one does not,
// with the coded error's message as detail and "no answer" otherwise.
func TestReadyz(t *testing.T) {
	down := broker.Errorf(broker.CodeUnavailable, "vault is sealed")
	for name, tc := range map[string]struct {
		checks []Check
		status int
		state  string
		probes map[string]probe
	}{
		"ready": {[]Check{{Name: "vault", Required: true, Pinger: pinger{}}, {Name: "redis", Pinger: pinger{}}}, 200, "ready",
			map[string]probe{"vault": {Status: "ok"}, "redis": {Status: "ok"}}},
		"no checks": {nil, 200, "ready", map[string]probe{}},
		"disabled":  {[]Check{{Name: "redis"}}, 200, "ready", map[string]probe{"redis": {Status: "disabled"}}},
		"degraded": {[]Check{{Name: "vault", Required: true, Pinger: pinger{}}, {Name: "redis", Pinger: pinger{errors.New("dial tcp: refused")}}}, 200, "degraded",
			map[string]probe{"vault": {Status: "ok"}, "redis": {Status: "unavailable", Detail: "no answer"}}},
		"unavailable": {[]Check{{Name: "vault", Required: true, Pinger: pinger{down}}, {Name: "redis", Pinger: pinger{errors.New("x")}}}, 503, "unavailable",
			map[string]probe{"vault": {Status: "unavailable", Detail: "vault is sealed"}, "redis": {Status: "unavailable", Detail: "no answer"}}},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, Config{}, func(d *Deps) { d.Checks = tc.checks })
			rec := h.do(t, "GET", "/readyz", "", "X-API-Key", "")
			got := decode[readiness](t, rec)
			if rec.Code != tc.status || got.Status != tc.state || len(got.Checks) != len(tc.probes) {
				t.Fatalf("%d %s, want %d %s", rec.Code, rec.Body, tc.status, tc.state)
			}
			for k, want := range tc.probes {
				if got.Checks[k] != want {
					t.Errorf("check %s = %+v, want %+v", k, got.Checks[k], want)
				}
			}
			if strings.Contains(rec.Body.String(), "refused") {
				t.Errorf("an uncoded cause reached the answer: %s", rec.Body)
			}
		})
	}
}

func TestOpenAPIRoute(t *testing.T) {
	h := newHarness(t, Config{})
	wantEnvelope(t, h.do(t, "GET", "/openapi.json", "", "X-API-Key", ""), http.StatusNotFound, "not_found")
	h = newHarness(t, Config{}, func(d *Deps) { d.OpenAPI = OpenAPISpec() })
	rec := h.do(t, "GET", "/openapi.json", "", "X-API-Key", "")
	if rec.Code != 200 || rec.Body.String() != string(OpenAPISpec()) || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("%d %.100s", rec.Code, rec.Body)
	}
	if len(OpenAPISpec()) == 0 || !strings.Contains(string(OpenAPISpec()), `"openapi"`) {
		t.Fatalf("embedded spec is empty")
	}
}

// TestMetricsLabels: requests are counted by route template, never by raw
// path (an id would be an unbounded label and names a user's object); paths
// no route matches share one label; the service's events are counted.
func TestMetricsLabels(t *testing.T) {
	h := newHarness(t, Config{})
	h.do(t, "GET", "/api/v1/user/secrets/"+testID, "")
	h.do(t, "GET", "/no/such/"+testID, "")
	m := h.srv.d.Metrics
	m.TokensIssued(3)
	m.TokensRevoked(2)
	m.ListCache(true)
	m.ListCache(false)
	m.ListCache(false)
	m.ObserveVault("kv_read", time.Millisecond, nil)
	m.ObserveVault("kv_read", time.Millisecond, errors.New("x"))
	body := h.metrics(t)
	if rec := h.do(t, "GET", "/metrics", ""); rec.Code != http.StatusNotFound {
		t.Errorf("GET /metrics on the API handler: %d, want 404 (operator endpoints are on the admin listener)", rec.Code)
	}
	if strings.Contains(body, testID) {
		t.Fatalf("a raw id is a metrics label: %s", grepLines(body, testID))
	}
	for _, want := range []string{
		`broker_http_requests_total{method="GET",route="/api/v1/user/secrets/:id",status="200"} 1`,
		`broker_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`broker_bootstrap_tokens_issued_total 3`,
		`broker_bootstrap_tokens_revoked_total 2`,
		`broker_list_cache_requests_total{result="hit"} 1`,
		`broker_list_cache_requests_total{result="miss"} 2`,
		`broker_vault_request_duration_seconds_count{operation="kv_read",outcome="ok"} 1`,
		`broker_vault_request_duration_seconds_count{operation="kv_read",outcome="error"} 1`,
		`broker_rate_limited_total{limiter="auth_failure"} 0`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
