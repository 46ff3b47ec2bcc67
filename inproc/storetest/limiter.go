package storetest

import (
	"testing"
	"time"
)

func limiter(t *testing.T, s Subject) {
	c := ctx(t)
	const burst = 3
	lim := s.NewLimiter(t, 1, time.Second, burst)
	for i := range burst {
		d, err := lim.Allow(c, "key-a")
		must(t, err, "Allow")
		if !d.Allowed || d.Remaining != burst-1-i {
			t.Fatalf("Allow #%d = %+v; want allowed with %d remaining", i, d, burst-1-i)
		}
	}
	d, err := lim.Allow(c, "key-a")
	must(t, err, "Allow past the burst")
	if d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > time.Second {
		t.Fatalf("Allow past the burst = %+v; want denied with 0 < RetryAfter <= 1s", d)
	}
	if d, err := lim.Allow(c, "key-b"); err != nil || !d.Allowed {
		t.Fatalf("another key = %+v, %v; want allowed", d, err)
	}
	s.Advance(t, d.RetryAfter+100*time.Millisecond)
	if d, err := lim.Allow(c, "key-a"); err != nil || !d.Allowed {
		t.Fatalf("Allow after RetryAfter = %+v, %v; want allowed", d, err)
	}
}

func limiterConcurrent(t *testing.T, s Subject) {
	c := ctx(t)
	lim := s.NewLimiter(t, 1, time.Hour, 5)
	allowed := parallel(20, func() bool {
		d, err := lim.Allow(c, "key-race")
		return err == nil && d.Allowed
	})
	if allowed != 5 {
		t.Fatalf("20 concurrent Allows with burst 5: %d allowed", allowed)
	}
}

// limiterPeek: Peek never takes an event and says what Allow would.
func limiterPeek(t *testing.T, s Subject) {
	c := ctx(t)
	const burst = 2
	lim := s.NewLimiter(t, 1, time.Second, burst)
	for range 5 {
		if d, err := lim.Peek(c, "key-p"); err != nil || !d.Allowed {
			t.Fatalf("Peek of a fresh key = %+v, %v; want allowed", d, err)
		}
	}
	for i := range burst {
		if d, err := lim.Allow(c, "key-p"); err != nil || !d.Allowed {
			t.Fatalf("Allow #%d after Peeks = %+v, %v; want allowed (Peek took an event)", i, d, err)
		}
	}
	d, err := lim.Peek(c, "key-p")
	must(t, err, "Peek past the burst")
	if d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > time.Second {
		t.Fatalf("Peek past the burst = %+v; want denied with 0 < RetryAfter <= 1s", d)
	}
	s.Advance(t, d.RetryAfter+100*time.Millisecond)
	if d, err := lim.Peek(c, "key-p"); err != nil || !d.Allowed {
		t.Fatalf("Peek after RetryAfter = %+v, %v; want allowed", d, err)
	}
}
