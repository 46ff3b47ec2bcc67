package main

import (
	"strings"
	"testing"
)

// TestMetricsExposeSeriesWithoutIdentifiers: /metrics has the request,
// latency, Vault, token, list cache and rate limit series, and no user id,
// secret id, name or value anywhere in its output.
func TestMetricsExposeSeriesWithoutIdentifiers(t *testing.T) {
	v := shared.Vault(t)
	cfg := setupVault(t, v)
	b := startBroker(t, cfg, nil)
	user := "metrics-user-" + randHex(4)
	c := newClient(t, b.URL, newAPIKey(t, v, user))
	name, value := "METRICS_SECRET_NAME_91", "sk-metrics-value-5e2c9b7d1a"
	id := createSecret(t, c, name, value)
	for range 2 {
		if r := c.do("GET", "/api/v1/user/secrets", nil); r.Status != 200 {
			t.Fatalf("list: %d", r.Status)
		}
	}
	rt := createRuntime(t, c, []string{id})
	if r := c.do("DELETE", "/api/v1/runtimes/"+rt.ID, nil); r.Status != 204 {
		t.Fatalf("delete runtime: %d", r.Status)
	}
	c.do("GET", "/api/v1/user/secrets/"+id, nil)

	m := newClient(t, b.AdminURL, "").do("GET", "/metrics", nil)
	if m.Status != 200 {
		t.Fatalf("/metrics: %d", m.Status)
	}
	out := string(m.Body)
	for _, series := range []string{
		`broker_http_requests_total{method="GET",route="/api/v1/user/secrets",status="200"} 2`,
		`broker_http_requests_total{method="GET",route="/api/v1/user/secrets/:id",status="200"} 1`,
		`broker_http_request_duration_seconds_bucket{method="POST",route="/api/v1/runtimes"`,
		`broker_vault_request_duration_seconds_bucket{operation="kv_wrapped_read",outcome="ok"`,
		`broker_vault_request_duration_seconds_bucket{operation="transit_decrypt",outcome="ok"`,
		`broker_bootstrap_tokens_issued_total 1`,
		`broker_bootstrap_tokens_revoked_total 1`,
		`broker_list_cache_requests_total{result="hit"}`,
		`broker_list_cache_requests_total{result="miss"}`,
		`broker_rate_limited_total{limiter="api_key"} 0`,
		`go_goroutines`,
	} {
		if !strings.Contains(out, series) {
			t.Errorf("/metrics lacks %s", series)
		}
	}
	for _, secret := range []string{user, id, rt.ID, rt.Sandbox.ID, name, value} {
		if strings.Contains(out, secret) {
			t.Errorf("/metrics contains an identifier or value it must not: %q", secret)
		}
	}
}

// TestMetricsOnlyOnAdminListener: /metrics is not served on the API
// listener (404), only on BROKER_ADMIN_ADDR, which serves nothing else; with
// BROKER_ADMIN_ADDR unset there is no admin listener at all.
func TestMetricsOnlyOnAdminListener(t *testing.T) {
	v := shared.Vault(t)
	cfg := setupVault(t, v)
	b := startBroker(t, cfg, nil)
	if r := newClient(t, b.URL, "").do("GET", "/metrics", nil); r.Status != 404 || strings.Contains(string(r.Body), "go_goroutines") {
		t.Errorf("GET /metrics on the API listener: %d, want 404", r.Status)
	}
	if b.AdminURL == "" {
		t.Fatal("no admin_addr in the listening line with BROKER_ADMIN_ADDR set")
	}
	admin := newClient(t, b.AdminURL, "")
	if r := admin.do("GET", "/metrics", nil); r.Status != 200 || !strings.Contains(string(r.Body), "broker_http_requests_total") {
		t.Errorf("GET /metrics on the admin listener: %d", r.Status)
	}
	for _, p := range []string{"/api/v1/user/secrets", "/healthz", "/openapi.json"} {
		if r := admin.do("GET", p, nil); r.Status != 404 {
			t.Errorf("admin listener GET %s: %d, want 404", p, r.Status)
		}
	}
	off := startBroker(t, cfg, map[string]string{"BROKER_ADMIN_ADDR": ""})
	if off.AdminURL != "" {
		t.Errorf("admin listener %s without BROKER_ADMIN_ADDR", off.AdminURL)
	}
}
