package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestErrorCodes(t *testing.T) {
	cause := errors.New("dial tcp 127.0.0.1:8200: refused")
	w := WithCode(CodeUnavailable, cause, "vault is unavailable")
	if w.Error() != "unavailable: vault is unavailable: dial tcp 127.0.0.1:8200: refused" || !errors.Is(w, cause) {
		t.Fatalf("Wrap: %q", w)
	}
	if e := Errorf(CodeNotFound, "secret %s not found", "x"); e.Error() != "not_found: secret x not found" || e.Unwrap() != nil {
		t.Fatalf("Errorf: %q", e)
	}
	one := Invalid(FieldError{"name", "is required"})
	if one.Message != "name: is required" || len(one.Fields) != 1 || one.Code != CodeInvalid {
		t.Fatalf("Invalid(one) = %+v", one)
	}
	if two := Invalid(FieldError{"a", "x"}, FieldError{"b", "y"}); two.Message != "invalid request" || len(two.Fields) != 2 {
		t.Fatalf("Invalid(two) = %+v", two)
	}
	for err, want := range map[error]Code{
		nil:                          "",
		cause:                        CodeInternal,
		w:                            CodeUnavailable,
		fmt.Errorf("outer: %w", one): CodeInvalid,
		fmt.Errorf("a: %w", fmt.Errorf("b: %w", Errorf(CodeForbidden, "no"))): CodeForbidden,
		ErrSecretNotFound:     CodeNotFound,
		ErrRuntimeNotFound:    CodeNotFound,
		ErrEvaluationNotFound: CodeNotFound,
	} {
		if got := ErrorCode(err); got != want {
			t.Errorf("ErrorCode(%v) = %q, want %q", err, got, want)
		}
		if want != "" && !IsCode(err, want) {
			t.Errorf("IsCode(%v, %q) = false", err, want)
		}
	}
	if IsCode(nil, CodeInternal) {
		t.Fatalf("nil is internal")
	}
}

func TestIDsAndKeys(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := NewID()
		if !ValidID(id) || seen[id] || id[14] != '4' {
			t.Fatalf("NewID %q", id)
		}
		seen[id] = true
	}
	k := NewAPIKeySecret()
	if !strings.HasPrefix(k, APIKeyPrefix) || len(k) != len(APIKeyPrefix)+43 || k == NewAPIKeySecret() {
		t.Fatalf("NewAPIKeySecret %q", k)
	}
	if h := HashAPIKey("sbk_x"); len(h) != 64 || h != HashAPIKey("sbk_x") || h == HashAPIKey("sbk_y") || strings.Contains(h, "sbk") {
		t.Fatalf("HashAPIKey %q", h)
	}
	if !ValidIdent("user@example.com") || ValidIdent("") || ValidIdent("a/b") || ValidIdent(strings.Repeat("a", 129)) {
		t.Fatalf("ValidIdent")
	}
	for _, p := range []string{"openai", "my-provider.v2"} {
		if m := CheckProvider(p); m != "" {
			t.Errorf("CheckProvider(%q) = %q", p, m)
		}
	}
	for _, p := range []string{"", "OpenAI", "-x", "a b", strings.Repeat("a", 65)} {
		if CheckProvider(p) == "" {
			t.Errorf("CheckProvider(%q) accepted", p)
		}
	}
}

// keyStore is an APIKeyStore over a map, counting lookups.
type keyStore struct {
	mu      sync.Mutex
	keys    map[string]APIKey
	lookups int
	err     error
}

func (s *keyStore) PutAPIKey(_ context.Context, k APIKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if _, ok := s.keys[k.ID]; ok {
		return Errorf(CodeConflict, "exists")
	}
	s.keys[k.ID] = k
	return nil
}

func (s *keyStore) GetAPIKey(_ context.Context, hash string) (APIKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lookups++
	if s.err != nil {
		return APIKey{}, s.err
	}
	k, ok := s.keys[hash]
	if !ok {
		return APIKey{}, notFound()
	}
	return k, nil
}

func (s *keyStore) ListAPIKeys(context.Context, string) ([]APIKey, error) { return nil, nil }
func (s *keyStore) DeleteAPIKey(_ context.Context, hash string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.keys, hash)
	return nil
}

// TestAuthenticator: keys resolve to their user; answers, positive and
// negative, are cached for the TTL; a revoked key stops working after it;
// outages are not cached; malformed keys never reach the store.
func TestAuthenticator(t *testing.T) {
	st := &keyStore{keys: map[string]APIKey{}}
	clk := &clock{t: time.Unix(1e9, 0)}
	key, rec, err := CreateAPIKey(bg, st, alice, "laptop", clk.Now())
	if err != nil || rec.ID != HashAPIKey(key) || rec.UserID != alice || rec.Label != "laptop" {
		t.Fatalf("CreateAPIKey: %+v %v", rec, err)
	}
	for _, stored := range st.keys {
		if strings.Contains(fmt.Sprint(stored), key) {
			t.Fatalf("the key itself was stored")
		}
	}
	a := NewAuthenticator(st, time.Minute, clk.Now)
	if a.TTL() != time.Minute || NewAuthenticator(st, 0, nil).TTL() != DefaultAuthCacheTTL {
		t.Fatalf("TTL")
	}
	for range 3 {
		got, err := a.Authenticate(bg, key)
		if err != nil || got.UserID != alice {
			t.Fatalf("Authenticate: %+v %v", got, err)
		}
	}
	unknown := NewAPIKeySecret()
	for range 3 {
		_, err := a.Authenticate(bg, unknown)
		wantCode(t, err, CodeUnauthenticated)
	}
	if st.lookups != 2 {
		t.Fatalf("%d store lookups, want 2 (one per key, then cached)", st.lookups)
	}
	st.DeleteAPIKey(bg, rec.ID)
	if _, err := a.Authenticate(bg, key); err != nil {
		t.Fatalf("revoked key stopped before the TTL: %v", err)
	}
	clk.Add(time.Minute + time.Second)
	_, err = a.Authenticate(bg, key)
	wantCode(t, err, CodeUnauthenticated)

	for _, bad := range []string{"", "sbk_short", strings.Repeat("k", 257)} {
		before := st.lookups
		_, err := a.Authenticate(bg, bad)
		wantCode(t, err, CodeUnauthenticated)
		if st.lookups != before {
			t.Fatalf("malformed key %q reached the store", bad)
		}
	}
	st.err = Errorf(CodeUnavailable, "vault down")
	other := NewAPIKeySecret()
	_, err = a.Authenticate(bg, other)
	wantCode(t, err, CodeUnavailable)
	st.err = nil
	st.keys[HashAPIKey(other)] = APIKey{ID: HashAPIKey(other), UserID: bob}
	if got, err := a.Authenticate(bg, other); err != nil || got.UserID != bob {
		t.Fatalf("an outage was cached: %+v %v", got, err)
	}
	// A record whose id is not the key's hash is refused.
	odd := NewAPIKeySecret()
	st.keys[HashAPIKey(odd)] = APIKey{ID: "something-else", UserID: bob}
	_, err = a.Authenticate(bg, odd)
	wantCode(t, err, CodeUnauthenticated)

	_, _, err = CreateAPIKey(bg, st, "bad/user", "", clk.Now())
	wantCode(t, err, CodeInvalid)
	_, _, err = CreateAPIKey(bg, st, alice, strings.Repeat("l", 129), clk.Now())
	wantCode(t, err, CodeInvalid)
	st.err = Errorf(CodeUnavailable, "down")
	_, _, err = CreateAPIKey(bg, st, alice, "", clk.Now())
	wantCode(t, err, CodeUnavailable)
}

func TestAuditContext(t *testing.T) {
	if (AuditFrom(bg) != Audit{}) {
		t.Fatalf("empty context has an audit")
	}
	ctx := WithAudit(bg, Audit{UserID: alice, RequestID: "r1"})
	ctx2 := withSandbox(ctx, "rt", "sb")
	if got := AuditFrom(ctx2); got != (Audit{UserID: alice, RequestID: "r1", RuntimeID: "rt", SandboxID: "sb"}) {
		t.Fatalf("withSandbox: %+v", got)
	}
	if AuditFrom(ctx).SandboxID != "" {
		t.Fatalf("withSandbox changed the parent")
	}
}

// TestForEach: all indexes run, at most workers at once; the first error
// stops new calls, cancels the others and is returned; a cancelled context
// returns its cause.
func TestForEach(t *testing.T) {
	if err := ForEach(bg, 0, 4, nil); err != nil {
		t.Fatal(err)
	}
	var running, peak, total atomic.Int32
	seen := make([]atomic.Bool, 50)
	err := ForEach(bg, 50, 4, func(ctx context.Context, i int) error {
		n := running.Add(1)
		defer running.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(time.Millisecond)
		seen[i].Store(true)
		total.Add(1)
		return nil
	})
	if err != nil || total.Load() != 50 || peak.Load() > 4 || peak.Load() < 1 {
		t.Fatalf("err %v total %d peak %d", err, total.Load(), peak.Load())
	}
	for i := range seen {
		if !seen[i].Load() {
			t.Fatalf("index %d never ran", i)
		}
	}
	boom := errors.New("boom")
	var after atomic.Int32
	err = ForEach(bg, 1000, 2, func(ctx context.Context, i int) error {
		if i == 3 {
			return boom
		}
		if i > 3 {
			after.Add(1)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Millisecond):
		}
		return nil
	})
	if !errors.Is(err, boom) || after.Load() > 10 {
		t.Fatalf("err %v, %d calls after the failure", err, after.Load())
	}
	ctx, cancel := context.WithCancelCause(bg)
	why := errors.New("client went away")
	cancel(why)
	if err := ForEach(ctx, 10, 0, func(context.Context, int) error { return nil }); !errors.Is(err, why) {
		t.Fatalf("cancelled: %v", err)
	}
}

// TestRecordsNeverStoreTheToken: the stored forms drop every bootstrap,
// keep the user id (hidden from the API's JSON), and round-trip.
func TestRecordsNeverStoreTheToken(t *testing.T) {
	const token = "hvs.secret-token"
	bs := &Bootstrap{Token: token}
	rt := Runtime{ID: "r1", UserID: alice, ProjectID: "p", Sandbox: Sandbox{ID: "sb", Accessor: "acc-sb", Bootstrap: bs}}
	b, err := EncodeRuntime(rt)
	if err != nil || strings.Contains(string(b), token) {
		t.Fatalf("EncodeRuntime: %s %v", b, err)
	}
	back, err := DecodeRuntime(b)
	if err != nil || back.UserID != alice || back.ID != "r1" || back.Sandbox.ID != "sb" || back.Sandbox.Bootstrap != nil || back.Sandbox.Accessor != "acc-sb" {
		t.Fatalf("DecodeRuntime: %+v %v", back, err)
	}
	if rt.Sandbox.Bootstrap == nil {
		t.Fatalf("encoding changed the caller's runtime")
	}
	if api, _ := json.Marshal(back); strings.Contains(string(api), alice) || strings.Contains(string(api), "acc-sb") {
		t.Fatalf("the API form shows the user id or the accessor: %s", api)
	}
	ev := Evaluation{ID: "e1", UserID: alice, Items: []EvaluationItem{{Name: "i",
		RuntimeSandbox: Sandbox{ID: "sb-r", Accessor: "acc-r", Bootstrap: bs}, TaskSandbox: Sandbox{ID: "sb-t", Accessor: "acc-t", Bootstrap: bs}}}}
	b, err = EncodeEvaluation(ev)
	if err != nil || strings.Contains(string(b), token) {
		t.Fatalf("EncodeEvaluation: %s %v", b, err)
	}
	eback, err := DecodeEvaluation(b)
	if err != nil || eback.UserID != alice || len(eback.Items) != 1 || eback.Items[0].TaskSandbox.Bootstrap != nil ||
		eback.Items[0].RuntimeSandbox.Accessor != "acc-r" || eback.Items[0].TaskSandbox.Accessor != "acc-t" {
		t.Fatalf("DecodeEvaluation: %+v %v", eback, err)
	}
	if ev.Items[0].TaskSandbox.Bootstrap == nil || ev.Items[0].RuntimeSandbox.Bootstrap == nil {
		t.Fatalf("encoding changed the caller's evaluation")
	}
	_, err = EncodeRuntime(Runtime{ID: "x"})
	wantCode(t, err, CodeInvalid)
	_, err = EncodeEvaluation(Evaluation{UserID: alice})
	wantCode(t, err, CodeInvalid)
	_, err = DecodeRuntime([]byte("{"))
	wantCode(t, err, CodeInternal)
	_, err = DecodeEvaluation([]byte("nope"))
	wantCode(t, err, CodeInternal)
}
