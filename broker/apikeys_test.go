package broker

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// countingKeys is an APIKeyStore holding one key, counting lookups.
type countingKeys struct {
	APIKeyStore
	hash  string
	reads atomic.Int64
}

func (c *countingKeys) GetAPIKey(_ context.Context, hash string) (APIKey, error) {
	c.reads.Add(1)
	if hash == c.hash {
		return APIKey{ID: hash, UserID: "u"}, nil
	}
	return APIKey{}, Errorf(CodeNotFound, "no such key")
}

// TestAuthenticatorNegativeCache: an unknown key hash is remembered for
// NegativeTTL (no second lookup), in a bounded set that a flood of unknown
// keys cannot grow past maxUnknownKeys nor use to evict working keys.
func TestAuthenticatorNegativeCache(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	good := NewAPIKeySecret()
	st := &countingKeys{hash: HashAPIKey(good)}
	a := NewAuthenticator(st, time.Minute, func() time.Time { return now })
	ctx := context.Background()
	if _, err := a.Authenticate(ctx, good); err != nil {
		t.Fatal(err)
	}
	bad := NewAPIKeySecret()
	for range 3 {
		if _, err := a.Authenticate(ctx, bad); !IsCode(err, CodeUnauthenticated) {
			t.Fatalf("unknown key: %v", err)
		}
	}
	if got := st.reads.Load(); got != 2 {
		t.Fatalf("%d lookups for one good and one unknown key (3 tries), want 2", got)
	}
	now = now.Add(NegativeTTL + time.Second)
	_, _ = a.Authenticate(ctx, bad)
	if got := st.reads.Load(); got != 3 {
		t.Fatalf("unknown key after NegativeTTL: %d lookups, want 3", got)
	}
	for range maxUnknownKeys + 500 {
		_, _ = a.Authenticate(ctx, NewAPIKeySecret())
	}
	if n := len(a.unknown); n > maxUnknownKeys {
		t.Fatalf("negative cache holds %d hashes, bound %d", n, maxUnknownKeys)
	}
	before := st.reads.Load()
	if _, err := a.Authenticate(ctx, good); err != nil || st.reads.Load() != before {
		t.Fatalf("good key after a flood: %v, %d new lookups (evicted)", err, st.reads.Load()-before)
	}
}
