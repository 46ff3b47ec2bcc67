package broker

import (
	"context"
	"strings"
	"testing"
	"time"
)

// Benchmarks of the pure functions on every request's path (masking and
// name checks are in mask_test.go and validate_test.go).

func BenchmarkCheckValue(b *testing.B) {
	v := NewValidator(Limits{}, nil)
	val := "sk-proj-" + strings.Repeat("abcdef0123456789", 8)
	for b.Loop() {
		if m := v.CheckValue(val); m != "" {
			b.Fatal(m)
		}
	}
}

func BenchmarkValidID(b *testing.B) {
	id := NewID()
	for b.Loop() {
		if !ValidID(id) || !ValidIdent("user-1234@example.com") {
			b.Fatal("invalid")
		}
	}
}

func BenchmarkHashAPIKey(b *testing.B) {
	key := NewAPIKeySecret()
	for b.Loop() {
		_ = HashAPIKey(key)
	}
}

// oneKeyStore answers one key and counts lookups.
type oneKeyStore struct {
	k       APIKey
	lookups int
}

func (s *oneKeyStore) PutAPIKey(context.Context, APIKey) error { return nil }
func (s *oneKeyStore) GetAPIKey(_ context.Context, hash string) (APIKey, error) {
	s.lookups++
	if hash != s.k.ID {
		return APIKey{}, Errorf(CodeNotFound, "api key not found")
	}
	return s.k, nil
}
func (s *oneKeyStore) ListAPIKeys(context.Context, string) ([]APIKey, error) { return nil, nil }
func (s *oneKeyStore) DeleteAPIKey(context.Context, string) error            { return nil }

// BenchmarkAuthenticateCached is the per-request cost of a cached API key:
// one hash and one map lookup, no store call.
func BenchmarkAuthenticateCached(b *testing.B) {
	key := NewAPIKeySecret()
	st := &oneKeyStore{k: APIKey{ID: HashAPIKey(key), UserID: "u"}}
	a := NewAuthenticator(st, time.Hour, nil)
	ctx := context.Background()
	for b.Loop() {
		if _, err := a.Authenticate(ctx, key); err != nil {
			b.Fatal(err)
		}
	}
	if st.lookups != 1 {
		b.Fatalf("%d store lookups, want 1 (cached)", st.lookups)
	}
}

func BenchmarkCountHintsTake(b *testing.B) {
	h := newCountHints()
	now := time.Now()
	for b.Loop() {
		h.counted("u", 0, now)
		_ = h.take("u", 500, now)
	}
}
