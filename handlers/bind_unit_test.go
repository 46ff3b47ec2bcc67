package handlers

import (
	"net/http"
	"strings"
	"testing"

	"github.com/acme/secretsbroker/broker"
)

// jsonOfSize returns a create body of exactly n bytes.
func jsonOfSize(n int) string {
	const head, tail = `{"name":"BIG","value":"`, `"}`
	return head + strings.Repeat("x", n-len(head)-len(tail)) + tail
}

// TestBodyLimit: a body of MaxBodyBytes is read; one byte more answers 413
// payload_too_large on every route that reads a body (with or without an
// Idempotency-Key), and the service is not called.
func TestBodyLimit(t *testing.T) {
	h := newHarness(t, Config{})
	if rec := h.do(t, "POST", "/api/v1/user/secrets", jsonOfSize(MaxBodyBytes)); rec.Code != http.StatusCreated {
		t.Fatalf("body of exactly MaxBodyBytes: %d %s", rec.Code, rec.Body)
	}
	if got := len(h.svc.last(t).Args.(broker.CreateSecretInput).Value); got != MaxBodyBytes-25 {
		t.Fatalf("value of %d bytes reached the service, want %d", got, MaxBodyBytes-25)
	}
	calls := len(h.svc.Calls())
	big := jsonOfSize(MaxBodyBytes + 1)
	for _, tc := range []struct {
		method, path string
		hdr          []string
	}{
		{"POST", "/api/v1/user/secrets", nil},
		{"POST", "/api/v1/user/secrets", []string{HeaderIdempotencyKey, "idem-big-1"}},
		{"PUT", "/api/v1/user/secrets/" + testID, nil},
		{"POST", "/api/v1/user/secrets/preset", nil},
		{"POST", "/api/v1/user/secrets/" + testID + "/rollback", nil},
		{"POST", "/api/v1/runtimes", nil},
		{"POST", "/api/v1/runtimes/" + testID + "/restart", nil},
		{"POST", "/api/v1/evaluations", nil},
	} {
		rec := h.do(t, tc.method, tc.path, big, tc.hdr...)
		env := wantEnvelope(t, rec, http.StatusRequestEntityTooLarge, "payload_too_large")
		if !strings.Contains(env.Detail, "1 MiB") {
			t.Errorf("%s %s: detail %q", tc.method, tc.path, env.Detail)
		}
		if strings.Contains(rec.Body.String(), "xxxxxxxx") {
			t.Errorf("%s %s: the answer echoes the body", tc.method, tc.path)
		}
	}
	if n := len(h.svc.Calls()); n != calls {
		t.Fatalf("too large bodies reached the service %d times", n-calls)
	}
}

// TestMalformedBodies: every decoding failure is 422 validation_error naming
// the field, and the service is not called.
func TestMalformedBodies(t *testing.T) {
	h := newHarness(t, Config{})
	for _, tc := range []struct {
		path, body, field, msg string
	}{
		{"/api/v1/user/secrets", `{"name":`, "body", "malformed JSON"},
		{"/api/v1/user/secrets", `{"name" "x"}`, "body", "malformed JSON at byte"},
		{"/api/v1/user/secrets", `{"name":"A","value":7}`, "value", "must be a string"},
		{"/api/v1/user/secrets", `[]`, "body", "must be an object"},
		{"/api/v1/user/secrets", `"text"`, "body", "must be an object"},
		{"/api/v1/user/secrets", `{} {}`, "body", "exactly one JSON object"},
		{"/api/v1/user/secrets", ` `, "body", "JSON object is required"},
		{"/api/v1/user/secrets/" + testID + "/rollback", `{"version":"2"}`, "version", "must be a number"},
		{"/api/v1/user/secrets/" + testID + "/rollback", `{"version":true}`, "version", "must be a number"},
		{"/api/v1/runtimes", `{"project_id":"p","secret_ids":"a"}`, "secret_ids", "must be an array"},
		{"/api/v1/evaluations", `{"project_id":"p","items":[{"name":1}]}`, "items.name", "must be a string"},
		{"/api/v1/evaluations", `{"project_id":"p","items":{}}`, "items", "must be an array"},
	} {
		rec := h.do(t, "POST", tc.path, tc.body)
		env := wantEnvelope(t, rec, http.StatusUnprocessableEntity, "validation_error")
		if len(env.Errors) != 1 || env.Errors[0].Field != tc.field || !strings.Contains(env.Errors[0].Message, tc.msg) {
			t.Errorf("POST %s %s: %+v, want %s: %s", tc.path, tc.body, env, tc.field, tc.msg)
		}
	}
	// No body at all where one is required.
	for _, path := range []string{"/api/v1/user/secrets", "/api/v1/runtimes", "/api/v1/evaluations"} {
		env := wantEnvelope(t, h.do(t, "POST", path, ""), http.StatusUnprocessableEntity, "validation_error")
		if len(env.Errors) != 1 || env.Errors[0].Field != "body" {
			t.Errorf("POST %s without a body: %+v", path, env)
		}
	}
	if n := len(h.svc.Calls()); n != 0 {
		t.Fatalf("malformed bodies reached the service %d times", n)
	}
}

// TestBindIgnoresContentType: the body is decoded as JSON whatever the
// request's Content-Type says (today's behaviour), and answers are JSON.
func TestBindIgnoresContentType(t *testing.T) {
	h := newHarness(t, Config{})
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", ""} {
		rec := h.do(t, "POST", "/api/v1/user/secrets", `{"name":"A","value":"v"}`, "Content-Type", ct)
		if rec.Code != http.StatusCreated {
			t.Errorf("Content-Type %q: %d %s", ct, rec.Code, rec.Body)
		}
		if got := rec.Header().Get("Content-Type"); !strings.HasPrefix(got, "application/json") {
			t.Errorf("answer Content-Type %q", got)
		}
	}
}
