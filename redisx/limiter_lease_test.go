package redisx_test

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acme/secretsbroker/redisx"
)

// fakeClock is a settable clock for lease expiry (Redis keeps its own time).
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestLeasedLimiterNeverExceedsSharedLimit: two replicas leasing from one
// bucket of 400 (refill negligible) admit at most 400 events between them,
// and are refused early by at most a lease (31 events) each.
func TestLeasedLimiterNeverExceedsSharedLimit(t *testing.T) {
	r := env.Redis(t)
	prefix := uniquePrefix()
	ctx := testCtx(t)
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range 2 {
		c := newClient(t, r.URL, redisx.Options{Prefix: prefix})
		base, err := redisx.NewLimiter(c, 1000, 1000*time.Hour, 400)
		must(t, err)
		l := base.Leased(10000*time.Hour, time.Now)
		for range 8 {
			wg.Go(func() {
				for range 100 {
					d, err := l.Allow(ctx, "shared")
					if err != nil {
						t.Error(err)
						return
					}
					if d.Allowed {
						allowed.Add(1)
					}
				}
			})
		}
	}
	wg.Wait()
	if n := allowed.Load(); n > 400 || n < 400-2*31 {
		t.Fatalf("1600 requests on two leasing replicas, burst 400: %d admitted, want 338..400", n)
	}
}

// TestLeasedLimiterSparseKeyCostsOneEvent: a key seen once per lease period
// is charged one event per request (no lease left unspent), so all of its
// burst is usable.
func TestLeasedLimiterSparseKeyCostsOneEvent(t *testing.T) {
	r := env.Redis(t)
	c := newClient(t, r.URL, redisx.Options{Prefix: uniquePrefix()})
	base, err := redisx.NewLimiter(c, 1000, 1000*time.Hour, 40) // leases of up to 4
	must(t, err)
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	l := base.Leased(10000*time.Hour, clk.Now)
	ctx := testCtx(t)
	for i := range 40 {
		d, err := l.Allow(ctx, "sparse")
		must(t, err)
		if !d.Allowed {
			t.Fatalf("request %d of a burst of 40 refused", i+1)
		}
		clk.Advance(20000 * time.Hour) // past the lease period
	}
	d, err := l.Allow(ctx, "sparse")
	must(t, err)
	if d.Allowed || d.RetryAfter <= 0 {
		t.Fatalf("request 41 of a burst of 40: %+v, want refused with a Retry-After", d)
	}
}

// TestLeasedLimiterSavesRoundTrips: a busy key costs far fewer Redis calls
// than requests, and Remaining counts down by one per request.
func TestLeasedLimiterSavesRoundTrips(t *testing.T) {
	r := env.Redis(t)
	c := newClient(t, r.URL, redisx.Options{Prefix: uniquePrefix()})
	base, err := redisx.NewLimiter(c, 1_000_000, 1000*time.Hour, 100_000)
	must(t, err)
	l := base.Leased(time.Hour, time.Now)
	raw := rawClient(t, r.Addr)
	ctx := testCtx(t)
	before := scriptCalls(t, raw.Info(ctx, "commandstats").Val())
	last := -1
	for i := range 1000 {
		d, err := l.Allow(ctx, "busy")
		must(t, err)
		if !d.Allowed {
			t.Fatalf("request %d refused", i+1)
		}
		if last >= 0 && d.Remaining > last {
			t.Fatalf("request %d: remaining %d after %d", i+1, d.Remaining, last)
		}
		last = d.Remaining
	}
	if last < 100_000-1000-32 || last > 100_000-1000 {
		t.Fatalf("remaining after 1000 requests: %d, want about %d", last, 100_000-1000)
	}
	if n := scriptCalls(t, raw.Info(ctx, "commandstats").Val()) - before; n > 100 {
		t.Fatalf("1000 requests of one key cost %d script calls, want at most 100", n)
	}
}

// scriptCalls sums the calls of EVAL and EVALSHA in an INFO commandstats answer.
func scriptCalls(t *testing.T, info string) int {
	t.Helper()
	n := 0
	for line := range strings.SplitSeq(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || (name != "cmdstat_evalsha" && name != "cmdstat_eval") {
			continue
		}
		calls, _, _ := strings.Cut(strings.TrimPrefix(rest, "calls="), ",")
		v, err := strconv.Atoi(calls)
		if err != nil {
			t.Fatalf("commandstats %q: %v", line, err)
		}
		n += v
	}
	return n
}
