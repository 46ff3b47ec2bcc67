package inproc

import (
	"cmp"
	"context"
	"math"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/acme/secretsbroker/broker"
)

// DefaultLimiterKeys bounds how many keys a Limiter tracks.
const DefaultLimiterKeys = 100_000

// Limiter allows rate events per period for each key, with bursts of up to
// burst events: a token bucket per key (golang.org/x/time/rate), which admits
// exactly what GCRA admits. Keys idle long enough for their bucket to refill
// are forgotten (that changes nothing), and beyond maxKeys the least recently
// seen keys are forgotten too. Safe for concurrent use.
type Limiter struct {
	now     func() time.Time
	limit   rate.Limit
	burst   int
	refill  time.Duration // time for an empty bucket to fill up: idle keys older than this are dropped
	maxKeys int

	mu        sync.Mutex
	keys      map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim      *rate.Limiter
	lastSeen time.Time
}

var _ broker.Limiter = (*Limiter)(nil)

// NewLimiter returns a limiter of rate events per period with the given
// burst, tracking at most maxKeys keys (DefaultLimiterKeys when <= 0). now is
// the clock (time.Now when nil). Errors: invalid (rate, period or burst not positive).
func NewLimiter(now func() time.Time, ratePerPeriod int, period time.Duration, burst, maxKeys int) (*Limiter, error) {
	if ratePerPeriod <= 0 || period <= 0 || burst <= 0 {
		return nil, broker.Errorf(broker.CodeInvalid, "rate limit needs a positive rate, period and burst")
	}
	if now == nil {
		now = time.Now
	}
	if maxKeys <= 0 {
		maxKeys = DefaultLimiterKeys
	}
	interval := period / time.Duration(ratePerPeriod)
	return &Limiter{
		now:       now,
		limit:     rate.Limit(float64(ratePerPeriod) / period.Seconds()),
		burst:     burst,
		refill:    interval * time.Duration(burst),
		maxKeys:   maxKeys,
		keys:      make(map[string]*bucket),
		lastSweep: now(),
	}, nil
}

// Allow takes one event for key. When denied, RetryAfter says when the next
// event will be admitted. No errors.
func (l *Limiter) Allow(_ context.Context, key string) (broker.Decision, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.keys[key]
	if b == nil {
		l.makeRoomLocked(now)
		b = &bucket{lim: rate.NewLimiter(l.limit, l.burst)}
		l.keys[key] = b
	}
	b.lastSeen = now
	r := b.lim.ReserveN(now, 1)
	if !r.OK() {
		return broker.Decision{Allowed: false, RetryAfter: l.refill}, nil
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return broker.Decision{Allowed: false, RetryAfter: d}, nil
	}
	remaining := int(math.Floor(b.lim.TokensAt(now)))
	return broker.Decision{Allowed: true, Remaining: max(remaining, 0)}, nil
}

// Peek answers whether Allow would admit one event for key, without taking
// it. No errors.
func (l *Limiter) Peek(_ context.Context, key string) (broker.Decision, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.keys[key]
	if b == nil {
		return broker.Decision{Allowed: true, Remaining: l.burst}, nil
	}
	now := l.now()
	tokens := b.lim.TokensAt(now)
	if tokens >= 1 {
		return broker.Decision{Allowed: true, Remaining: int(math.Floor(tokens))}, nil
	}
	wait := time.Duration((1 - tokens) / float64(l.limit) * float64(time.Second))
	return broker.Decision{Allowed: false, RetryAfter: max(wait, time.Millisecond)}, nil
}

// makeRoomLocked forgets idle keys (periodically, or when the map is full)
// and, if the map is still full, the least recently seen tenth of the keys.
func (l *Limiter) makeRoomLocked(now time.Time) {
	if len(l.keys) < l.maxKeys && now.Sub(l.lastSweep) < sweepInterval {
		return
	}
	l.lastSweep = now
	for k, b := range l.keys {
		if now.Sub(b.lastSeen) >= l.refill {
			delete(l.keys, k)
		}
	}
	if len(l.keys) < l.maxKeys {
		return
	}
	type seen struct {
		key string
		at  time.Time
	}
	all := make([]seen, 0, len(l.keys))
	for k, b := range l.keys {
		all = append(all, seen{k, b.lastSeen})
	}
	slices.SortFunc(all, func(a, b seen) int { return cmp.Compare(a.at.UnixNano(), b.at.UnixNano()) })
	drop := max(len(all)-l.maxKeys*9/10, 1)
	for _, s := range all[:drop] {
		delete(l.keys, s.key)
	}
}

// Len returns how many keys the limiter currently tracks.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}
