package redisx

import (
	"context"
	"sync"
	"time"

	"github.com/acme/secretsbroker/broker"
)

// LeasedLimiter is a Limiter that takes events from the shared GCRA bucket
// in small leases instead of one Redis round trip per event: a key that
// spends its lease before it expires gets a lease twice as large next time
// (up to maxLease), and a key whose lease expired unspent starts again at
// one event. So a key seen once in a while costs exactly one event per
// request, as with Limiter, and a busy key costs one Redis round trip per
// lease.
//
// The limit stays shared by every replica and is never exceeded: every
// admitted event was taken from Redis first. The error is the other way:
// events leased but unspent when the lease expires were charged for
// nothing, so a key can be refused early by at most maxLease-1 events per
// replica per lease period (and a lease is only large after its key spent
// the previous one within the period). maxLease is a tenth of the burst and
// of the events the rate admits per lease period (at most 32), so that error
// is at most a tenth of the limit per replica; with a limit too small for
// leases of 2 the limiter takes one event per request, exactly as Limiter.
// X-RateLimit-Remaining counts Redis's remaining events plus this replica's
// unspent lease.
type LeasedLimiter struct {
	l        *Limiter
	maxLease int
	ttl      time.Duration
	now      func() time.Time

	mu   sync.Mutex
	keys map[string]*lease
}

type lease struct {
	tokens    int       // events taken from Redis and not yet spent
	remaining int       // Redis's remaining events when the lease was taken
	size      int       // size of the next lease to ask for
	expires   time.Time // unspent tokens are dropped after this
}

// maxLeasedKeys bounds the map: past it, expired leases are swept.
const maxLeasedKeys = 10_000

var _ broker.Limiter = (*LeasedLimiter)(nil)

// maxLeaseCap bounds a lease whatever the limit.
const maxLeaseCap = 32

// Leased wraps l in leases valid for ttl (now is the clock), each of at most
// a tenth of the burst and of the events the rate admits per ttl.
func (l *Limiter) Leased(ttl time.Duration, now func() time.Time) *LeasedLimiter {
	perTTL := float64(l.limit.Rate) * ttl.Seconds() / l.limit.Period.Seconds() // float: no overflow
	maxLease := max(1, min(maxLeaseCap, l.limit.Burst/10, int(min(perTTL/10, maxLeaseCap))))
	return &LeasedLimiter{l: l, maxLease: maxLease, ttl: ttl, now: now, keys: map[string]*lease{}}
}

// Allow implements broker.Limiter: one event for key from this replica's
// lease, or from a new lease taken from Redis. Errors: unavailable, internal.
func (ll *LeasedLimiter) Allow(ctx context.Context, key string) (broker.Decision, error) {
	now := ll.now()
	ll.mu.Lock()
	e := ll.keys[key]
	size := 1
	if e != nil {
		if e.tokens > 0 && now.Before(e.expires) {
			e.tokens--
			d := broker.Decision{Allowed: true, Remaining: e.remaining + e.tokens}
			ll.mu.Unlock()
			return d, nil
		}
		if now.Before(e.expires) { // spent within the period: a busy key
			size = e.size
		}
	}
	ll.mu.Unlock()

	ctx, cancel := ll.l.c.op(ctx)
	defer cancel()
	res, err := ll.l.rl.AllowAtMost(ctx, ll.l.c.key("rl:", key), ll.l.limit, size)
	if err != nil {
		return broker.Decision{}, mapErr(err)
	}
	if res.Allowed <= 0 {
		retry := res.RetryAfter
		if retry <= 0 {
			retry = ll.l.limit.Period / time.Duration(ll.l.limit.Rate)
		}
		return broker.Decision{Allowed: false, RetryAfter: retry}, nil
	}

	ll.mu.Lock()
	defer ll.mu.Unlock()
	if len(ll.keys) >= maxLeasedKeys {
		ll.sweep(now)
	}
	e = ll.keys[key]
	if e == nil || !now.Before(e.expires) {
		e = &lease{}
		ll.keys[key] = e
	}
	// Concurrent callers may each have taken a lease: their tokens add up.
	e.tokens += res.Allowed - 1
	e.remaining = res.Remaining
	e.size = min(ll.maxLease, max(size*2, e.size))
	e.expires = now.Add(ll.ttl)
	return broker.Decision{Allowed: true, Remaining: e.remaining + e.tokens}, nil
}

// Peek implements broker.Limiter: Redis's answer, plus nothing of this
// replica's lease (a peek admits nothing). Errors: unavailable, internal.
func (ll *LeasedLimiter) Peek(ctx context.Context, key string) (broker.Decision, error) {
	return ll.l.Peek(ctx, key)
}

// sweep drops expired leases; the caller holds mu.
func (ll *LeasedLimiter) sweep(now time.Time) {
	for k, e := range ll.keys {
		if !now.Before(e.expires) {
			delete(ll.keys, k)
		}
	}
}
