package inproc

import (
	"context"
	"sync"
	"time"

	"github.com/acme/secretsbroker/broker"
)

// Defaults for Options fields left zero.
const (
	DefaultRecordTTL    = 7 * 24 * time.Hour
	DefaultListCacheTTL = 5 * time.Minute
)

// sweepInterval is how often, at most, a write walks a map to drop expired entries.
const sweepInterval = time.Minute

// Options configures a Store. Zero fields take the defaults above.
type Options struct {
	// RecordTTL is how long runtime and evaluation records live after their last write.
	RecordTTL time.Duration
	// ListCacheTTL is how long a cached secret list lives.
	ListCacheTTL time.Duration
}

func (o Options) withDefaults() Options {
	if o.RecordTTL <= 0 {
		o.RecordTTL = DefaultRecordTTL
	}
	if o.ListCacheTTL <= 0 {
		o.ListCacheTTL = DefaultListCacheTTL
	}
	return o
}

// Store is the in-process record store (broker.RecordStore) and readiness
// probe (broker.Pinger). Its ListCache and Idempotency methods return the
// list cache and idempotency store that share its clock. Safe for concurrent use.
type Store struct {
	now  func() time.Time
	opts Options

	mu          sync.Mutex
	runtimes    map[string]record              // runtime id -> record
	byUser      map[string]map[string]struct{} // user id -> runtime ids
	evaluations map[string]record              // evaluation id -> record
	accessors   map[string]accessor            // sandbox id -> accessor
	lastSweep   time.Time

	lists *ListCache
	idem  *Idempotency
}

var (
	_ broker.RecordStore = (*Store)(nil)
	_ broker.Pinger      = (*Store)(nil)
)

// New returns an empty Store. now is the clock (time.Now when nil).
func New(now func() time.Time, opts Options) *Store {
	if now == nil {
		now = time.Now
	}
	opts = opts.withDefaults()
	return &Store{
		now:         now,
		opts:        opts,
		runtimes:    make(map[string]record),
		byUser:      make(map[string]map[string]struct{}),
		evaluations: make(map[string]record),
		accessors:   make(map[string]accessor),
		lastSweep:   now(),
		lists:       newListCache(now, opts.ListCacheTTL),
		idem:        newIdempotency(now),
	}
}

// ListCache returns the store's per-user secret list cache.
func (s *Store) ListCache() *ListCache { return s.lists }

// Idempotency returns the store's idempotency key store.
func (s *Store) Idempotency() *Idempotency { return s.idem }

// Ping always answers nil: the store is in the process.
func (s *Store) Ping(context.Context) error { return nil }
