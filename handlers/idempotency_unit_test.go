package handlers

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/acme/secretsbroker/broker"
)

// TestIdempotentReplay: a retried POST with the same key and body replays
// the first answer without running again; another body is refused; the
// same key on another route or for another API key runs separately.
func TestIdempotentReplay(t *testing.T) {
	h := newHarness(t, Config{})
	h.svc.secret = broker.Secret{ID: testID, Name: "A", Version: 1}
	body := `{"name":"A","value":"v"}`
	first := h.do(t, "POST", "/api/v1/user/secrets", body, HeaderIdempotencyKey, "k-1")
	if first.Code != http.StatusCreated || first.Header().Get("Idempotent-Replayed") != "" {
		t.Fatalf("first: %d %v", first.Code, first.Header())
	}
	h.svc.secret.Version = 99 // a second run would show it
	again := h.do(t, "POST", "/api/v1/user/secrets", body, HeaderIdempotencyKey, "k-1")
	if again.Code != first.Code || again.Body.String() != first.Body.String() || again.Header().Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %s %v, want %d %s", again.Code, again.Body, again.Header(), first.Code, first.Body)
	}
	if n := len(h.svc.Calls()); n != 1 {
		t.Fatalf("the POST ran %d times", n)
	}
	rec := h.do(t, "POST", "/api/v1/user/secrets", `{"name":"B","value":"v"}`, HeaderIdempotencyKey, "k-1")
	env := wantEnvelope(t, rec, http.StatusUnprocessableEntity, "validation_error")
	if len(env.Errors) != 1 || env.Errors[0].Field != HeaderIdempotencyKey {
		t.Fatalf("reuse with another body: %+v", env)
	}
	if rec := h.do(t, "POST", "/api/v1/runtimes", `{"project_id":"p"}`, HeaderIdempotencyKey, "k-1"); rec.Code != http.StatusCreated {
		t.Fatalf("same key on another route: %d %s", rec.Code, rec.Body)
	}
	if n := len(h.svc.Calls()); n != 2 {
		t.Fatalf("%d calls, want 2", n)
	}
	// Without a key every POST runs.
	h.do(t, "POST", "/api/v1/user/secrets", body)
	h.do(t, "POST", "/api/v1/user/secrets", body)
	if n := len(h.svc.Calls()); n != 4 {
		t.Fatalf("%d calls, want 4", n)
	}
}

func TestIdempotencyKeyFormat(t *testing.T) {
	h := newHarness(t, Config{})
	for _, bad := range []string{"has space", strings.Repeat("k", 256), "tab\tkey", "é"} {
		rec := h.do(t, "POST", "/api/v1/user/secrets", `{"name":"A","value":"v"}`, HeaderIdempotencyKey, bad)
		env := wantEnvelope(t, rec, http.StatusUnprocessableEntity, "validation_error")
		if len(env.Errors) != 1 || env.Errors[0].Field != HeaderIdempotencyKey {
			t.Errorf("key %q: %+v", bad, env)
		}
	}
	if n := len(h.svc.Calls()); n != 0 {
		t.Fatalf("bad keys reached the service %d times", n)
	}
	if rec := h.do(t, "POST", "/api/v1/user/secrets", `{"name":"A","value":"v"}`, HeaderIdempotencyKey, strings.Repeat("k", 255)); rec.Code != 201 {
		t.Fatalf("255-character key: %d", rec.Code)
	}
}

// TestIdempotencyStoreFailures: a key still in progress is 409; a store that
// cannot answer fails closed with 503 (a retry could otherwise run twice).
func TestIdempotencyStoreFailures(t *testing.T) {
	h := newHarness(t, Config{})
	h.idem.claimed[idemScope(testKey, "POST", "/api/v1/user/secrets", "busy")] = true
	wantEnvelope(t, h.do(t, "POST", "/api/v1/user/secrets", `{}`, HeaderIdempotencyKey, "busy"), http.StatusConflict, "conflict")
	h.idem.beginErr = broker.Errorf(broker.CodeUnavailable, "redis down")
	env := wantEnvelope(t, h.do(t, "POST", "/api/v1/user/secrets", `{}`, HeaderIdempotencyKey, "other"), http.StatusServiceUnavailable, "unavailable")
	if !strings.Contains(env.Detail, "Idempotency-Key") {
		t.Fatalf("detail %q does not say what to do", env.Detail)
	}
	if n := len(h.svc.Calls()); n != 0 {
		t.Fatalf("%d calls, want none", n)
	}
}

// TestIdempotencyReleasesFailures: a 5xx or 429 answer is not stored, so a
// retry runs again; a 4xx answer is stored and replayed.
func TestIdempotencyReleasesFailures(t *testing.T) {
	h := newHarness(t, Config{})
	h.svc.err = broker.Errorf(broker.CodeUnavailable, "vault sealed")
	wantEnvelope(t, h.do(t, "POST", "/api/v1/user/secrets", `{"name":"A","value":"v"}`, HeaderIdempotencyKey, "r-1"), 503, "unavailable")
	if h.idem.released != 1 || len(h.idem.stored) != 0 {
		t.Fatalf("5xx: released %d, stored %d", h.idem.released, len(h.idem.stored))
	}
	h.svc.err = broker.Errorf(broker.CodeConflict, "a secret named A already exists")
	wantEnvelope(t, h.do(t, "POST", "/api/v1/user/secrets", `{"name":"A","value":"v"}`, HeaderIdempotencyKey, "r-1"), 409, "conflict")
	h.svc.err = nil
	rec := h.do(t, "POST", "/api/v1/user/secrets", `{"name":"A","value":"v"}`, HeaderIdempotencyKey, "r-1")
	if rec.Code != 409 || rec.Header().Get("Idempotent-Replayed") != "true" {
		t.Fatalf("stored 409 not replayed: %d %v", rec.Code, rec.Header())
	}
	if n := len(h.svc.Calls()); n != 2 {
		t.Fatalf("%d calls, want 2", n)
	}
}

// TestReplayNeverCarriesTheToken: the first answer of a provisioning POST
// holds the bootstrap token; what is stored for replay does not, for
// runtimes, restarts and evaluations alike.
func TestReplayNeverCarriesTheToken(t *testing.T) {
	const token = "hvs.wrapping-token-0123456789"
	sb := broker.Sandbox{ID: "sb-1", EnvNames: []string{"A"}, ExpiresAt: time.Unix(1e9, 0).UTC(),
		Bootstrap: &broker.Bootstrap{SandboxID: "sb-1", Token: token, Accessor: "acc-1", EnvNames: []string{"A"}}}
	h := newHarness(t, Config{})
	h.svc.runtime = broker.Runtime{ID: testID, ProjectID: "p", Sandbox: sb}
	h.svc.eval = broker.Evaluation{ID: testID, ProjectID: "p", Items: []broker.EvaluationItem{{Name: "i", RuntimeSandbox: sb, TaskSandbox: sb}}}
	for _, tc := range []struct{ path, body string }{
		{"/api/v1/runtimes", `{"project_id":"p"}`},
		{"/api/v1/runtimes/" + testID + "/restart", ``},
		{"/api/v1/evaluations", `{"project_id":"p","items":[{"name":"i"}]}`},
	} {
		first := h.do(t, "POST", tc.path, tc.body, HeaderIdempotencyKey, "tok-"+tc.path)
		if !strings.Contains(first.Body.String(), token) {
			t.Fatalf("%s: the first answer has no token: %s", tc.path, first.Body)
		}
		replay := h.do(t, "POST", tc.path, tc.body, HeaderIdempotencyKey, "tok-"+tc.path)
		if replay.Header().Get("Idempotent-Replayed") != "true" || replay.Code != first.Code {
			t.Fatalf("%s: not replayed: %d %v", tc.path, replay.Code, replay.Header())
		}
		if strings.Contains(replay.Body.String(), token) {
			t.Fatalf("%s: the replay carries the token: %s", tc.path, replay.Body)
		}
		if !strings.Contains(replay.Body.String(), `"accessor":"acc-1"`) {
			t.Fatalf("%s: the replay lost more than the token: %s", tc.path, replay.Body)
		}
	}
	for k, r := range h.idem.stored {
		if strings.Contains(string(r.Body), token) {
			t.Fatalf("stored answer %s carries the token", k)
		}
	}
	// The service's value is left untouched by the redaction.
	if h.svc.runtime.Sandbox.Bootstrap.Token != token || h.svc.eval.Items[0].TaskSandbox.Bootstrap.Token != token {
		t.Fatalf("redaction changed the caller's value")
	}
	var rt broker.Runtime
	_ = json.Unmarshal(h.do(t, "POST", "/api/v1/runtimes", `{"project_id":"p"}`).Body.Bytes(), &rt)
	if rt.Sandbox.Bootstrap == nil || rt.Sandbox.Bootstrap.Token != token {
		t.Fatalf("without a key the token is answered: %+v", rt.Sandbox.Bootstrap)
	}
}

// idemScope is the store key the idempotency layer uses for an API key,
// method, path and Idempotency-Key.
func idemScope(apiKey, method, path, ik string) string {
	sum := sha256.Sum256([]byte(broker.HashAPIKey(apiKey) + "\x00" + method + "\x00" + path + "\x00" + ik))
	return hex.EncodeToString(sum[:])
}
