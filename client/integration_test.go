package client_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/client"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// wantAPIError requires err to be an *APIError with status, type and code.
func wantAPIError(t *testing.T, err error, status int, typ string, code broker.Code) *client.APIError {
	t.Helper()
	var ae *client.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v (%T), want an *APIError", err, err)
	}
	if ae.Status != status || ae.Type != typ || ae.Detail == "" || ae.RequestID == "" {
		t.Errorf("APIError %+v, want status %d type %s with a detail and request id", ae, status, typ)
	}
	if !broker.IsCode(err, code) {
		t.Errorf("code %q, want %q", broker.ErrorCode(err), code)
	}
	return ae
}

// TestAgainstBrokerd drives every method of the SDK against one real brokerd.
func TestAgainstBrokerd(t *testing.T) {
	b := startBrokerd(t, nil)
	value := "sk-sdk-" + strings.Repeat("x", 24) + "789"

	t.Run("secrets", func(t *testing.T) {
		c := b.client(t, "sdk-secrets")
		ctx := ctx(t)
		prov := "openai"
		s, err := c.CreateSecret(ctx, client.CreateSecretRequest{Name: "SDK_TOKEN", Value: value, Provider: &prov})
		if err != nil {
			t.Fatal(err)
		}
		if s.ID == "" || s.Name != "SDK_TOKEN" || s.Version != 1 || s.Provider == nil || *s.Provider != "openai" || strings.Contains(s.MaskedValue, "xxxxxxxx") {
			t.Fatalf("created %+v", s)
		}
		got, err := c.GetSecret(ctx, s.ID)
		if err != nil || got.ID != s.ID || got.MaskedValue != s.MaskedValue {
			t.Fatalf("get %+v, %v", got, err)
		}
		eh, err := c.SetEgressHosts(ctx, s.ID, []string{"api.openai.com"})
		if err != nil || eh.Version != 1 || !slices.Equal(eh.EgressHosts, []string{"api.openai.com"}) {
			t.Fatalf("SetEgressHosts %+v, %v", eh, err)
		}
		if eh, err = c.SetEgressHosts(ctx, s.ID, nil); err != nil || len(eh.EgressHosts) != 0 {
			t.Fatalf("SetEgressHosts(nil) %+v, %v", eh, err)
		}
		l, err := c.ListSecrets(ctx)
		if err != nil || l.Total != 1 || len(l.Secrets) != 1 || l.Secrets[0].ID != s.ID {
			t.Fatalf("list %+v, %v", l, err)
		}
		u, err := c.UpdateSecret(ctx, s.ID, value+"-2")
		if err != nil || u.Version != 2 || u.Fingerprint == s.Fingerprint {
			t.Fatalf("update %+v, %v", u, err)
		}
		vs, err := c.ListVersions(ctx, s.ID)
		if err != nil || vs.Total != 2 || len(vs.Versions) != 2 {
			t.Fatalf("versions %+v, %v", vs, err)
		}
		r, err := c.Rollback(ctx, s.ID, 1)
		if err != nil || r.Version != 3 || r.Fingerprint != s.Fingerprint {
			t.Fatalf("rollback %+v (want version 3 with v1's fingerprint), %v", r, err)
		}
		_, err = c.Rollback(ctx, s.ID, 99)
		wantAPIError(t, err, 422, "validation_error", broker.CodeInvalid)

		_, err = c.CreateSecret(ctx, client.CreateSecretRequest{Name: "SDK_TOKEN", Value: value})
		wantAPIError(t, err, 409, "conflict", broker.CodeConflict)

		if err := c.DeleteSecret(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
		_, err = c.GetSecret(ctx, s.ID)
		wantAPIError(t, err, 404, "not_found", broker.CodeNotFound)
		wantAPIError(t, c.DeleteSecret(ctx, s.ID), 404, "not_found", broker.CodeNotFound)
	})

	t.Run("validation", func(t *testing.T) {
		c := b.client(t, "sdk-invalid")
		_, err := c.CreateSecret(ctx(t), client.CreateSecretRequest{Name: "1 bad name", Value: ""})
		ae := wantAPIError(t, err, 422, "validation_error", broker.CodeInvalid)
		var fields []string
		for _, f := range ae.Fields {
			fields = append(fields, f.Field)
		}
		if !slices.Contains(fields, "name") || !slices.Contains(fields, "value") {
			t.Errorf("fields %v, want name and value", ae.Fields)
		}
		var be *broker.Error
		if !errors.As(err, &be) || len(be.Fields) != len(ae.Fields) {
			t.Errorf("broker error %+v", be)
		}
	})

	t.Run("unauthenticated", func(t *testing.T) {
		c, err := client.New(b.URL, "sbk_"+strings.Repeat("0", 40))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.ListSecrets(ctx(t))
		wantAPIError(t, err, 401, "authentication_error", broker.CodeUnauthenticated)
		if strings.Contains(err.Error(), "sbk_") {
			t.Errorf("the key is in the error: %v", err)
		}
		anon, _ := client.New(b.URL, "")
		_, err = anon.ListRuntimes(ctx(t))
		wantAPIError(t, err, 401, "authentication_error", broker.CodeUnauthenticated)
	})

	t.Run("presets", func(t *testing.T) {
		c := b.client(t, "sdk-presets", client.WithBearer())
		ctx := ctx(t)
		ps, err := c.ListPresets(ctx)
		if err != nil || len(ps) < 3 {
			t.Fatalf("presets %+v, %v", ps, err)
		}
		s, err := c.CreateFromPreset(ctx, "anthropic", value)
		if err != nil || s.Name != "ANTHROPIC_API_KEY" {
			t.Fatalf("preset secret %+v, %v", s, err)
		}
		ps, _ = c.ListPresets(ctx)
		for _, p := range ps {
			if p.Configured != (p.Provider == "anthropic") {
				t.Errorf("preset %+v", p)
			}
		}
		_, err = c.CreateFromPreset(ctx, "no-such-provider", value)
		wantAPIError(t, err, 422, "validation_error", broker.CodeInvalid)
	})

	t.Run("provisioning", func(t *testing.T) {
		c := b.client(t, "sdk-prov")
		ctx := ctx(t)
		s, err := c.CreateSecret(ctx, client.CreateSecretRequest{Name: "PROV_TOKEN", Value: value})
		if err != nil {
			t.Fatal(err)
		}
		rt, err := c.CreateRuntime(ctx, client.CreateRuntimeRequest{ProjectID: "p1", Name: "dev", SecretIDs: []string{s.ID}})
		if err != nil {
			t.Fatal(err)
		}
		bs := rt.Sandbox.Bootstrap
		if rt.ID == "" || bs == nil || bs.Token == "" || !slices.Equal(bs.EnvNames, []string{"PROV_TOKEN"}) {
			t.Fatalf("runtime %+v", rt)
		}
		got, err := c.GetRuntime(ctx, rt.ID)
		if err != nil || got.ID != rt.ID || got.Sandbox.Bootstrap != nil {
			t.Fatalf("get runtime %+v (want no bootstrap), %v", got, err)
		}
		l, err := c.ListRuntimes(ctx)
		if err != nil || l.Total != 1 || l.Runtimes[0].ID != rt.ID {
			t.Fatalf("list runtimes %+v, %v", l, err)
		}
		re, err := c.RestartRuntime(ctx, rt.ID, nil)
		if err != nil || re.Sandbox.ID == rt.Sandbox.ID || re.Sandbox.Bootstrap == nil || re.Restarts != 1 {
			t.Fatalf("restart %+v, %v", re, err)
		}
		re, err = c.RestartRuntime(ctx, rt.ID, []string{})
		if err != nil || len(re.SecretIDs) != 0 || len(re.Sandbox.EnvNames) != 0 {
			t.Fatalf("restart with no secrets %+v, %v", re, err)
		}
		ev, err := c.CreateEvaluation(ctx, client.CreateEvaluationRequest{ProjectID: "p1", SecretIDs: []string{s.ID},
			Items: []client.EvaluationItemSpec{{Name: "a"}, {Name: "b"}}})
		if err != nil || len(ev.Items) != 2 || ev.Items[0].TaskSandbox.Bootstrap == nil || ev.Items[1].RuntimeSandbox.Bootstrap.Token == "" {
			t.Fatalf("evaluation %+v, %v", ev, err)
		}
		gev, err := c.GetEvaluation(ctx, ev.ID)
		if err != nil || gev.ID != ev.ID || len(gev.Items) != 2 || gev.Items[0].TaskSandbox.Bootstrap != nil {
			t.Fatalf("get evaluation %+v, %v", gev, err)
		}
		_, err = c.CreateRuntime(ctx, client.CreateRuntimeRequest{ProjectID: "p1", SecretIDs: []string{"6f1c2b3a-4d5e-4f60-8a1b-2c3d4e5f6a7b"}})
		if !broker.IsCode(err, broker.CodeNotFound) && !broker.IsCode(err, broker.CodeInvalid) {
			t.Errorf("runtime with someone else's secret: %v", err)
		}
		if err := c.DeleteRuntime(ctx, rt.ID); err != nil {
			t.Fatal(err)
		}
		_, err = c.GetRuntime(ctx, rt.ID)
		wantAPIError(t, err, 404, "not_found", broker.CodeNotFound)
		_, err = c.GetEvaluation(ctx, "no-such-evaluation")
		wantAPIError(t, err, 404, "not_found", broker.CodeNotFound)
	})

	t.Run("idempotency key", func(t *testing.T) {
		c := b.client(t, "sdk-idem")
		ctx := ctx(t)
		in := client.CreateSecretRequest{Name: "IDEM_TOKEN", Value: value}
		first, err := c.CreateSecret(ctx, in, client.IdempotencyKey("sdk-create-1"))
		if err != nil {
			t.Fatal(err)
		}
		var raw []byte
		again, err := c.CreateSecret(ctx, in, client.IdempotencyKey("sdk-create-1"), client.RawBody(&raw))
		if err != nil || again.ID != first.ID || len(raw) == 0 {
			t.Fatalf("replay %+v, %v: want the first answer, not a conflict", again, err)
		}
		if l, _ := c.ListSecrets(ctx); l.Total != 1 {
			t.Fatalf("%d secrets after a replay, want 1", l.Total)
		}
		in.Value += "-other"
		_, err = c.CreateSecret(ctx, in, client.IdempotencyKey("sdk-create-1"))
		ae := wantAPIError(t, err, 422, "validation_error", broker.CodeInvalid)
		if len(ae.Fields) != 1 || ae.Fields[0].Field != client.HeaderIdempotencyKey {
			t.Errorf("fields %+v", ae.Fields)
		}
		rt, err := c.CreateRuntime(ctx, client.CreateRuntimeRequest{ProjectID: "p", SecretIDs: []string{first.ID}}, client.IdempotencyKey("sdk-rt-1"))
		if err != nil || rt.Sandbox.Bootstrap == nil || rt.Sandbox.Bootstrap.Token == "" {
			t.Fatalf("runtime %+v, %v", rt, err)
		}
		replay, err := c.CreateRuntime(ctx, client.CreateRuntimeRequest{ProjectID: "p", SecretIDs: []string{first.ID}}, client.IdempotencyKey("sdk-rt-1"))
		if err != nil || replay.ID != rt.ID || replay.Sandbox.Bootstrap == nil || replay.Sandbox.Bootstrap.Token != "" {
			t.Fatalf("replayed runtime %+v, %v: want the same runtime without its token", replay, err)
		}
	})

	t.Run("probes", func(t *testing.T) {
		c, _ := client.New(b.URL, "")
		ctx := ctx(t)
		if err := c.Healthz(ctx); err != nil {
			t.Fatal(err)
		}
		r, err := c.Readyz(ctx)
		if err != nil || r.Status != "ready" || r.Checks["vault"].Status != "ok" {
			t.Fatalf("readyz %+v, %v", r, err)
		}
		if _, err := c.Metrics(ctx); !broker.IsCode(err, broker.CodeNotFound) {
			t.Errorf("metrics on the API listener: %v, want not_found (they are on the admin listener)", err)
		}
		admin, _ := client.New(b.AdminURL, "")
		m, err := admin.Metrics(ctx)
		if err != nil || !strings.Contains(string(m), "broker_http_requests_total") {
			t.Fatalf("metrics %.200s, %v", m, err)
		}
		doc, err := c.OpenAPI(ctx)
		if err != nil || !strings.Contains(string(doc), `"openapi"`) {
			t.Fatalf("openapi %.200s, %v", doc, err)
		}
	})

	if strings.Contains(b.Logs.String(), value) {
		t.Error("LEAK: a secret value is in brokerd's logs")
	}
}

// TestRateLimited: a 429 is an *APIError with code unavailable and the
// Retry-After; it is not retried.
func TestRateLimited(t *testing.T) {
	b := startBrokerd(t, map[string]string{"BROKER_RATE_PER_MINUTE": "1", "BROKER_RATE_BURST": "2"})
	c := b.client(t, "sdk-rate")
	ctx := ctx(t)
	var err error
	for i := 0; i < 5 && err == nil; i++ {
		_, err = c.ListSecrets(ctx)
	}
	ae := wantAPIError(t, err, 429, "rate_limited", broker.CodeUnavailable)
	if ae.RetryAfter < time.Second {
		t.Errorf("RetryAfter %s, want at least 1s", ae.RetryAfter)
	}
	if !strings.Contains(err.Error(), "[rate_limited 429]") {
		t.Errorf("error text %q", err)
	}
}
