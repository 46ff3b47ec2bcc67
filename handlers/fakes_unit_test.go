package handlers

// Small in-test implementations of the interfaces the HTTP layer works
// through (services.go) and of broker.Limiter, broker.IdempotencyStore and
// broker.Pinger. They stand in for the broker's own service, never for Vault
// or Redis; the integration tests in cmd/brokerd run the real thing.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/acme/secretsbroker/broker"
)

const (
	testKey  = "sbk_unit-test-key-0123456789abcdef"
	testUser = "alice"
	testID   = "0b8f3c1e-7d2a-4c5b-9e6f-1a2b3c4d5e6f"
)

// call is one service call as the fake saw it.
type call struct {
	Method string
	UserID string
	ID     string
	Args   any
}

// fakeService implements SecretsService, RuntimesService and
// EvaluationsService. Every method records its call, then panics with
// panicWith, waits for the context when block is set, returns err when set,
// or answers the canned values.
type fakeService struct {
	mu        sync.Mutex
	calls     []call
	err       error
	panicWith any
	block     bool

	secret  broker.Secret
	runtime broker.Runtime
	eval    broker.Evaluation
}

func (f *fakeService) record(ctx context.Context, method, user, id string, args any) error {
	f.mu.Lock()
	f.calls = append(f.calls, call{Method: method, UserID: user, ID: id, Args: args})
	err, p, block := f.err, f.panicWith, f.block
	f.mu.Unlock()
	if p != nil {
		panic(p)
	}
	if block {
		<-ctx.Done()
		return ctx.Err()
	}
	return err
}

func (f *fakeService) Calls() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

func (f *fakeService) last(t *testing.T) call {
	t.Helper()
	cs := f.Calls()
	if len(cs) == 0 {
		t.Fatalf("the service was not called")
	}
	return cs[len(cs)-1]
}

func (f *fakeService) ListSecrets(ctx context.Context, u string) ([]broker.Secret, error) {
	if err := f.record(ctx, "ListSecrets", u, "", nil); err != nil {
		return nil, err
	}
	if f.secret.ID == "" {
		return nil, nil
	}
	return []broker.Secret{f.secret}, nil
}

func (f *fakeService) CreateSecret(ctx context.Context, u string, in broker.CreateSecretInput) (broker.Secret, error) {
	return f.secret, f.record(ctx, "CreateSecret", u, "", in)
}

func (f *fakeService) GetSecret(ctx context.Context, u, id string) (broker.Secret, error) {
	return f.secret, f.record(ctx, "GetSecret", u, id, nil)
}

func (f *fakeService) UpdateSecretWith(ctx context.Context, u, id string, in broker.UpdateSecretInput) (broker.Secret, error) {
	return f.secret, f.record(ctx, "UpdateSecret", u, id, in)
}

func (f *fakeService) DeleteSecret(ctx context.Context, u, id string) error {
	return f.record(ctx, "DeleteSecret", u, id, nil)
}

func (f *fakeService) Versions(ctx context.Context, u, id string) ([]broker.SecretVersion, error) {
	return nil, f.record(ctx, "Versions", u, id, nil)
}

func (f *fakeService) Rollback(ctx context.Context, u, id string, version int) (broker.Secret, error) {
	return f.secret, f.record(ctx, "Rollback", u, id, version)
}

func (f *fakeService) Presets(ctx context.Context, u string) ([]broker.Preset, error) {
	return broker.DefaultPresets(), f.record(ctx, "Presets", u, "", nil)
}

func (f *fakeService) CreateFromPresetWith(ctx context.Context, u string, in broker.PresetInput) (broker.Secret, error) {
	return f.secret, f.record(ctx, "CreateFromPreset", u, "", in)
}

func (f *fakeService) CreateRuntime(ctx context.Context, u string, in broker.RuntimeInput) (broker.Runtime, error) {
	return f.runtime, f.record(ctx, "CreateRuntime", u, "", in)
}

func (f *fakeService) ListRuntimes(ctx context.Context, u string) ([]broker.Runtime, error) {
	return nil, f.record(ctx, "ListRuntimes", u, "", nil)
}

func (f *fakeService) GetRuntime(ctx context.Context, u, id string) (broker.Runtime, error) {
	return f.runtime, f.record(ctx, "GetRuntime", u, id, nil)
}

func (f *fakeService) RestartRuntimeWith(ctx context.Context, u, id string, in broker.RestartInput) (broker.Runtime, error) {
	return f.runtime, f.record(ctx, "RestartRuntime", u, id, in.SecretIDs)
}

func (f *fakeService) DeleteRuntime(ctx context.Context, u, id string) error {
	return f.record(ctx, "DeleteRuntime", u, id, nil)
}

func (f *fakeService) CreateEvaluation(ctx context.Context, u string, in broker.EvaluationInput) (broker.Evaluation, error) {
	return f.eval, f.record(ctx, "CreateEvaluation", u, "", in)
}

func (f *fakeService) GetEvaluation(ctx context.Context, u, id string) (broker.Evaluation, error) {
	return f.eval, f.record(ctx, "GetEvaluation", u, id, nil)
}

// fakeAuth knows testKey as testUser; err, when set, answers every lookup.
type fakeAuth struct {
	mu      sync.Mutex
	lookups []string
	err     error
}

func (a *fakeAuth) Authenticate(_ context.Context, key string) (broker.APIKey, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.lookups = append(a.lookups, key)
	if a.err != nil {
		return broker.APIKey{}, a.err
	}
	if key != testKey {
		return broker.APIKey{}, broker.Errorf(broker.CodeUnauthenticated, "invalid API key")
	}
	return broker.APIKey{ID: broker.HashAPIKey(key), UserID: testUser}, nil
}

func (a *fakeAuth) Lookups() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.lookups)
}

// fakeLimiter answers decision (or err) and records the keys it was asked about.
type fakeLimiter struct {
	mu       sync.Mutex
	keys     []string
	decision broker.Decision
	err      error
}

func allowAll() *fakeLimiter {
	return &fakeLimiter{decision: broker.Decision{Allowed: true, Remaining: 9}}
}

func (l *fakeLimiter) Allow(_ context.Context, key string) (broker.Decision, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.keys = append(l.keys, key)
	return l.decision, l.err
}

// Peek answers as Allow would, without taking an event (or recording key).
func (l *fakeLimiter) Peek(_ context.Context, key string) (broker.Decision, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.decision, l.err
}

func (l *fakeLimiter) Keys() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.keys...)
}

// memIdem is a map-backed broker.IdempotencyStore following its documented
// contract (claims, stored answers, release).
type memIdem struct {
	mu       sync.Mutex
	claimed  map[string]bool
	stored   map[string]broker.StoredResponse
	beginErr error
	released int
}

func newMemIdem() *memIdem {
	return &memIdem{claimed: map[string]bool{}, stored: map[string]broker.StoredResponse{}}
}

func (m *memIdem) Begin(_ context.Context, key string, _ time.Duration) (*broker.StoredResponse, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.beginErr != nil {
		return nil, false, m.beginErr
	}
	if r, ok := m.stored[key]; ok {
		return &r, false, nil
	}
	if m.claimed[key] {
		return nil, false, broker.Errorf(broker.CodeConflict, "in progress")
	}
	m.claimed[key] = true
	return nil, true, nil
}

func (m *memIdem) Complete(_ context.Context, key string, resp broker.StoredResponse, _ time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.claimed, key)
	m.stored[key] = resp
	return nil
}

func (m *memIdem) Release(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.claimed, key)
	m.released++
	return nil
}

type pinger struct{ err error }

func (p pinger) Ping(context.Context) error { return p.err }

// syncBuf is a log sink safe for concurrent writes.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// harness is a Server over the fakes.
type harness struct {
	srv      *Server
	svc      *fakeService
	auth     *fakeAuth
	limiter  *fakeLimiter
	authFail *fakeLimiter
	idem     *memIdem
	logs     *syncBuf
}

func newHarness(t *testing.T, cfg Config, mod ...func(*Deps)) *harness {
	t.Helper()
	h := &harness{svc: &fakeService{}, auth: &fakeAuth{}, limiter: allowAll(), authFail: allowAll(), idem: newMemIdem(), logs: &syncBuf{}}
	d := Deps{
		Secrets: h.svc, Runtimes: h.svc, Evaluations: h.svc, Auth: h.auth,
		Limiter: h.limiter, AuthFailLimiter: h.authFail, Idempotency: h.idem,
		Log: zerolog.New(h.logs),
	}
	for _, m := range mod {
		m(&d)
	}
	h.srv = New(cfg, d)
	return h
}

// do sends one request with the test API key (unless hdr overrides auth).
func (h *harness) do(t *testing.T, method, path, body string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	req.Header.Set("X-API-Key", testKey)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	rec := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(rec, req)
	return rec
}

// metrics answers GET /metrics of the admin handler (the operator
// listener, not the API's).
func (h *harness) metrics(t *testing.T) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.srv.AdminHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("admin GET /metrics: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// envelope decodes the error envelope of rec, failing the test if the body
// is not one or its code disagrees with the status.
func envelope(t *testing.T, rec *httptest.ResponseRecorder) Envelope {
	t.Helper()
	var env Envelope
	if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
		t.Fatalf("body %q is not an error envelope: %v", rec.Body.String(), err)
	}
	if env.Code != rec.Code || env.Type == "" || env.Detail == "" {
		t.Fatalf("envelope %+v for status %d: want code = status and a type and detail", env, rec.Code)
	}
	return env
}

func wantEnvelope(t *testing.T, rec *httptest.ResponseRecorder, status int, typ string) Envelope {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status %d, want %d; body %s", rec.Code, status, rec.Body.String())
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q, want application/json", ct)
	}
	env := envelope(t, rec)
	if env.Type != typ {
		t.Fatalf("envelope type %q, want %q (%+v)", env.Type, typ, env)
	}
	return env
}

func decode[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %q: %v", rec.Body.String(), err)
	}
	return v
}
