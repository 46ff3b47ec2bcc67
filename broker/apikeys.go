package broker

import (
	"context"
	"crypto/subtle"
	"sync"
	"time"
)

// Authenticator resolves API keys to users through an APIKeyStore, caching
// found keys for TTL (a revoked key stops working within TTL on every
// replica) and unknown key hashes for a shorter NegativeTTL in a bounded set
// of their own, so a flood of guesses neither grows memory without bound nor
// evicts the keys that work.
type Authenticator struct {
	store APIKeyStore
	ttl   time.Duration
	now   func() time.Time

	mu      sync.Mutex
	cache   map[string]authEntry // found keys, by key hash
	unknown map[string]time.Time // hashes the store did not know, until when
}

type authEntry struct {
	key     APIKey
	expires time.Time
}

const (
	// maxAuthCache bounds the positive cache; when full it is cleared (rare:
	// one entry per live key).
	maxAuthCache = 100_000
	// maxUnknownKeys bounds the negative cache; when full, expired entries
	// go and, if none has, new unknown hashes are not remembered.
	maxUnknownKeys = 10_000
	// NegativeTTL is how long an unknown key hash is remembered (at most TTL).
	NegativeTTL = 10 * time.Second
)

// DefaultAuthCacheTTL is how long a key lookup is trusted.
const DefaultAuthCacheTTL = 30 * time.Second

// NewAuthenticator returns an Authenticator; ttl <= 0 means DefaultAuthCacheTTL.
func NewAuthenticator(store APIKeyStore, ttl time.Duration, now func() time.Time) *Authenticator {
	if ttl <= 0 {
		ttl = DefaultAuthCacheTTL
	}
	if now == nil {
		now = time.Now
	}
	return &Authenticator{store: store, ttl: ttl, now: now, cache: map[string]authEntry{}, unknown: map[string]time.Time{}}
}

// TTL returns how long a revoked key may keep working.
func (a *Authenticator) TTL() time.Duration { return a.ttl }

// Authenticate returns the API key record for key.
// Errors: unauthenticated (unknown or malformed key), unavailable, internal.
func (a *Authenticator) Authenticate(ctx context.Context, key string) (APIKey, error) {
	if len(key) < len(APIKeyPrefix)+16 || len(key) > 256 {
		return APIKey{}, Errorf(CodeUnauthenticated, "invalid API key")
	}
	hash := HashAPIKey(key)
	now := a.now()
	a.mu.Lock()
	e, found := a.cache[hash]
	until, known := a.unknown[hash]
	a.mu.Unlock()
	switch {
	case found && now.Before(e.expires):
	case known && now.Before(until):
		return APIKey{}, Errorf(CodeUnauthenticated, "invalid API key")
	default:
		k, err := a.store.GetAPIKey(ctx, hash)
		switch {
		case IsCode(err, CodeNotFound):
			a.rememberUnknown(hash, now)
			return APIKey{}, Errorf(CodeUnauthenticated, "invalid API key")
		case err != nil:
			return APIKey{}, err
		}
		e = authEntry{key: k, expires: now.Add(a.ttl)}
		a.mu.Lock()
		if len(a.cache) >= maxAuthCache {
			clear(a.cache)
		}
		a.cache[hash] = e
		delete(a.unknown, hash)
		a.mu.Unlock()
	}
	if subtle.ConstantTimeCompare([]byte(e.key.ID), []byte(hash)) != 1 {
		return APIKey{}, Errorf(CodeUnauthenticated, "invalid API key")
	}
	return e.key, nil
}

// rememberUnknown notes a hash the store does not know for NegativeTTL.
func (a *Authenticator) rememberUnknown(hash string, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.unknown) >= maxUnknownKeys {
		for h, until := range a.unknown {
			if !now.Before(until) {
				delete(a.unknown, h)
			}
		}
		if len(a.unknown) >= maxUnknownKeys {
			return
		}
	}
	a.unknown[hash] = now.Add(min(NegativeTTL, a.ttl))
}

// CreateAPIKey issues a new key for userID and stores only its hash. The key
// is returned once and never again. Errors: invalid, unavailable, internal.
func CreateAPIKey(ctx context.Context, store APIKeyStore, userID, label string, now time.Time) (string, APIKey, error) {
	if !ValidIdent(userID) {
		return "", APIKey{}, Invalid(FieldError{"user", "must be 1-128 letters, digits, '.', '_', '@', ':' or '-'"})
	}
	if len(label) > 128 {
		return "", APIKey{}, Invalid(FieldError{"label", "must be at most 128 characters"})
	}
	key := NewAPIKeySecret()
	rec := APIKey{ID: HashAPIKey(key), UserID: userID, Label: label, CreatedAt: now.UTC()}
	if err := store.PutAPIKey(ctx, rec); err != nil {
		return "", APIKey{}, err
	}
	return key, rec, nil
}
