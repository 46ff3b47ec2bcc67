package broker

import (
	"context"
	"crypto/subtle"
	"sync"
	"time"
)

// Authenticator resolves API keys to users through an APIKeyStore, caching
// answers (positive and negative) for TTL: a revoked key stops working within
// TTL on every replica.
type Authenticator struct {
	store APIKeyStore
	ttl   time.Duration
	now   func() time.Time

	mu    sync.Mutex
	cache map[string]authEntry // by key hash
}

type authEntry struct {
	key     APIKey
	found   bool
	expires time.Time
}

// maxAuthCache bounds the cache; when full it is cleared (cheap, rare).
const maxAuthCache = 100_000

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
	return &Authenticator{store: store, ttl: ttl, now: now, cache: map[string]authEntry{}}
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
	e, ok := a.cache[hash]
	a.mu.Unlock()
	if !ok || now.After(e.expires) {
		k, err := a.store.GetAPIKey(ctx, hash)
		switch {
		case err == nil:
			e = authEntry{key: k, found: true}
		case IsCode(err, CodeNotFound):
			e = authEntry{}
		default:
			return APIKey{}, err
		}
		e.expires = now.Add(a.ttl)
		a.mu.Lock()
		if len(a.cache) >= maxAuthCache {
			clear(a.cache)
		}
		a.cache[hash] = e
		a.mu.Unlock()
	}
	if !e.found || subtle.ConstantTimeCompare([]byte(e.key.ID), []byte(hash)) != 1 {
		return APIKey{}, Errorf(CodeUnauthenticated, "invalid API key")
	}
	return e.key, nil
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
