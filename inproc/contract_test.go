package inproc_test

import (
	"sync"
	"testing"
	"time"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/inproc"
	"github.com/acme/secretsbroker/inproc/storetest"
)

// clock is a fake clock that moves only when told to.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Subject {
		clk := newClock()
		opts := inproc.Options{RecordTTL: time.Hour, ListCacheTTL: 5 * time.Minute}
		s := inproc.New(clk.Now, opts)
		return storetest.Subject{
			Records: s,
			Lists:   s.ListCache(),
			Idem:    s.Idempotency(),
			NewLimiter: func(t *testing.T, rate int, period time.Duration, burst int) broker.Limiter {
				l, err := inproc.NewLimiter(clk.Now, rate, period, burst, 0)
				if err != nil {
					t.Fatal(err)
				}
				return l
			},
			RecordTTL: opts.RecordTTL,
			ListTTL:   opts.ListCacheTTL,
			Advance:   func(_ *testing.T, d time.Duration) { clk.Advance(d) },
		}
	})
}
