package inproc_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/inproc"
	"github.com/acme/secretsbroker/inproc/storetest"
)

func TestDefaultsAndPing(t *testing.T) {
	s := inproc.New(nil, inproc.Options{})
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("Ping = %v", err)
	}
	// Default record TTL is 7 days: alive after 6, gone after 8.
	clk := newClock()
	s = inproc.New(clk.Now, inproc.Options{})
	ctx := context.Background()
	if err := s.PutRuntime(ctx, storetest.Runtime("u", "rt", "tok")); err != nil {
		t.Fatal(err)
	}
	clk.Advance(6 * 24 * time.Hour)
	if _, err := s.GetRuntime(ctx, "u", "rt"); err != nil {
		t.Fatalf("after 6 days: %v", err)
	}
	clk.Advance(2 * 24 * time.Hour)
	if _, err := s.GetRuntime(ctx, "u", "rt"); !broker.IsCode(err, broker.CodeNotFound) {
		t.Fatalf("after 8 days: %v, want not_found", err)
	}
}

func TestPutRequiresIDs(t *testing.T) {
	s := inproc.New(nil, inproc.Options{})
	ctx := context.Background()
	r := storetest.Runtime("", "rt", "tok")
	if err := s.PutRuntime(ctx, r); !broker.IsCode(err, broker.CodeInvalid) {
		t.Fatalf("PutRuntime without user = %v, want invalid", err)
	}
	e := storetest.Evaluation("u", "", "tok", 1)
	if err := s.PutEvaluation(ctx, e); !broker.IsCode(err, broker.CodeInvalid) {
		t.Fatalf("PutEvaluation without id = %v, want invalid", err)
	}
}

func TestReturnedRecordsAreCopies(t *testing.T) {
	s := inproc.New(nil, inproc.Options{})
	ctx := context.Background()
	if err := s.PutRuntime(ctx, storetest.Runtime("u", "rt", "tok")); err != nil {
		t.Fatal(err)
	}
	got, _ := s.GetRuntime(ctx, "u", "rt")
	got.SecretIDs[0] = "changed"
	got.Sandbox.EnvNames[0] = "CHANGED"
	again, _ := s.GetRuntime(ctx, "u", "rt")
	if again.SecretIDs[0] == "changed" || again.Sandbox.EnvNames[0] == "CHANGED" {
		t.Fatal("a caller's change to a returned runtime reached the store")
	}
}

func TestLimiterRejectsBadConfig(t *testing.T) {
	for _, c := range []struct {
		rate   int
		period time.Duration
		burst  int
	}{{0, time.Second, 1}, {1, 0, 1}, {1, time.Second, 0}, {-1, time.Second, 1}} {
		if _, err := inproc.NewLimiter(nil, c.rate, c.period, c.burst, 0); !broker.IsCode(err, broker.CodeInvalid) {
			t.Errorf("NewLimiter(%d, %s, %d) = %v, want invalid", c.rate, c.period, c.burst, err)
		}
	}
}

func TestLimiterMemoryIsBounded(t *testing.T) {
	clk := newClock()
	const maxKeys = 100
	l, err := inproc.NewLimiter(clk.Now, 10, time.Second, 5, maxKeys)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 10 * maxKeys {
		if _, err := l.Allow(ctx, fmt.Sprintf("k%d", i)); err != nil {
			t.Fatal(err)
		}
		if n := l.Len(); n > maxKeys {
			t.Fatalf("after %d keys the limiter tracks %d > %d", i+1, n, maxKeys)
		}
	}
	// Idle keys (bucket refilled: 5 tokens at 10/s = 0.5 s) are forgotten at the next sweep.
	clk.Advance(2 * time.Minute)
	if _, err := l.Allow(ctx, "fresh"); err != nil {
		t.Fatal(err)
	}
	if n := l.Len(); n != 1 {
		t.Fatalf("after idling, the limiter tracks %d keys, want 1", n)
	}
}

func TestLimiterEvictionKeepsBusyKeysLimited(t *testing.T) {
	// A key that is being limited must stay limited while idle keys come and go.
	clk := newClock()
	l, err := inproc.NewLimiter(clk.Now, 1, time.Hour, 2, 10)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 2 {
		l.Allow(ctx, "busy")
	}
	clk.Advance(time.Second)
	for i := range 8 {
		l.Allow(ctx, fmt.Sprintf("k%d", i))
	}
	if d, _ := l.Allow(ctx, "busy"); d.Allowed {
		t.Fatalf("busy key allowed past its burst: %+v", d)
	}
}

func TestSweepDropsExpired(t *testing.T) {
	clk := newClock()
	s := inproc.New(clk.Now, inproc.Options{RecordTTL: time.Minute})
	ctx := context.Background()
	for i := range 50 {
		id := fmt.Sprintf("rt-%d", i)
		if err := s.PutRuntime(ctx, storetest.Runtime("u", id, "tok")); err != nil {
			t.Fatal(err)
		}
		if err := s.PutAccessor(ctx, "sb-"+id, "acc", time.Second); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(2 * time.Minute)
	if err := s.PutRuntime(ctx, storetest.Runtime("u", "new", "tok")); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListRuntimes(ctx, "u")
	if err != nil || len(list) != 1 || list[0].ID != "new" {
		t.Fatalf("ListRuntimes after sweep = %v, %v", list, err)
	}
	if n := inproc.Sizes(s); n != (inproc.StoreSizes{Runtimes: 1, Users: 1}) {
		t.Fatalf("after the sweep the store holds %+v", n)
	}
}
