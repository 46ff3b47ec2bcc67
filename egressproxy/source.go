package egressproxy

import (
	"context"
	"sync"
	"time"

	"github.com/acme/secretsbroker/broker"
)

// Source is where egressd reads a sandbox's egress record, a placeholder's
// record and a secret's current value (vaultx.Client in production).
type Source interface {
	// EgressSandbox returns the record of a sandbox. Errors: not_found
	// (no such egress sandbox), unavailable, internal.
	EgressSandbox(ctx context.Context, sandboxID string) (broker.SandboxEgress, error)
	// EgressPlaceholder returns the record of a placeholder by the
	// broker.TokenHash of its token. Errors: not_found, unavailable, internal.
	EgressPlaceholder(ctx context.Context, tokenHash string) (broker.PlaceholderRecord, error)
	// CurrentValue returns the current value of a user's secret.
	// Errors: not_found, forbidden, unavailable, internal.
	CurrentValue(ctx context.Context, userID, secretID string) (string, error)
}

// CacheConfig bounds how long Cache keeps what it read.
type CacheConfig struct {
	RecordTTL time.Duration // sandbox and placeholder records (and their absence, at most 1 s)
	ValueTTL  time.Duration // plaintext values
	Now       func() time.Time
	// MaxEntries bounds each of the three maps; a full map is emptied
	// (default 100000).
	MaxEntries int
}

// Cache is a Source that keeps answers of another Source in memory: records
// for RecordTTL, a not_found answer for at most a second, values for
// ValueTTL. Nothing else is cached (an unavailable Vault is asked again).
// Values are kept in memory only and never logged.
type Cache struct {
	src Source
	cfg CacheConfig

	sandboxes    ttlMap[broker.SandboxEgress]
	placeholders ttlMap[broker.PlaceholderRecord]
	values       ttlMap[string]
}

var _ Source = (*Cache)(nil)

// NewCache returns a Cache over src.
func NewCache(src Source, cfg CacheConfig) *Cache {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 100000
	}
	c := &Cache{src: src, cfg: cfg}
	for _, m := range []interface{ init(int) }{&c.sandboxes, &c.placeholders, &c.values} {
		m.init(cfg.MaxEntries)
	}
	return c
}

// EgressSandbox is Source.EgressSandbox, cached. Errors: as Source.
func (c *Cache) EgressSandbox(ctx context.Context, sandboxID string) (broker.SandboxEgress, error) {
	return cached(c, &c.sandboxes, sandboxID, c.cfg.RecordTTL, func() (broker.SandboxEgress, error) {
		return c.src.EgressSandbox(ctx, sandboxID)
	})
}

// EgressPlaceholder is Source.EgressPlaceholder, cached. Errors: as Source.
func (c *Cache) EgressPlaceholder(ctx context.Context, tokenHash string) (broker.PlaceholderRecord, error) {
	return cached(c, &c.placeholders, tokenHash, c.cfg.RecordTTL, func() (broker.PlaceholderRecord, error) {
		return c.src.EgressPlaceholder(ctx, tokenHash)
	})
}

// CurrentValue is Source.CurrentValue, cached for ValueTTL. Errors: as Source.
func (c *Cache) CurrentValue(ctx context.Context, userID, secretID string) (string, error) {
	return cached(c, &c.values, userID+"\x00"+secretID, c.cfg.ValueTTL, func() (string, error) {
		return c.src.CurrentValue(ctx, userID, secretID)
	})
}

func cached[T any](c *Cache, m *ttlMap[T], key string, ttl time.Duration, load func() (T, error)) (T, error) {
	now := c.cfg.Now()
	if v, err, ok := m.get(key, now); ok {
		return v, err
	}
	v, err := load()
	switch {
	case err == nil && ttl > 0:
		m.put(key, v, nil, now.Add(ttl))
	case broker.IsCode(err, broker.CodeNotFound) && ttl > 0:
		m.put(key, v, err, now.Add(min(ttl, time.Second)))
	}
	return v, err
}

type ttlEntry[T any] struct {
	v   T
	err error
	exp time.Time
}

type ttlMap[T any] struct {
	mu  sync.Mutex
	max int
	m   map[string]ttlEntry[T]
}

func (m *ttlMap[T]) init(max int) { m.max, m.m = max, map[string]ttlEntry[T]{} }

func (m *ttlMap[T]) get(key string, now time.Time) (T, error, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.m[key]
	if !ok || !now.Before(e.exp) {
		if ok {
			delete(m.m, key)
		}
		var zero T
		return zero, nil, false
	}
	return e.v, e.err, true
}

func (m *ttlMap[T]) put(key string, v T, err error, exp time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.m) >= m.max {
		clear(m.m)
	}
	m.m[key] = ttlEntry[T]{v: v, err: err, exp: exp}
}
