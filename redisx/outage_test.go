package redisx_test

import (
	"context"
	"testing"
	"time"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/inproc/storetest"
	"github.com/acme/secretsbroker/internal/testenv"
	"github.com/acme/secretsbroker/redisx"
)

// TestOutage stops Redis under a live client: every call answers unavailable
// within the op timeout (no hang); once Redis is back the same client works.
func TestOutage(t *testing.T) {
	r := testenv.StartRedis(t)
	const opTimeout = time.Second
	c := newClient(t, r.URL, redisx.Options{Prefix: uniquePrefix(), OpTimeout: opTimeout})
	lim, err := redisx.NewLimiter(c, 100, time.Second, 100)
	if err != nil {
		t.Fatal(err)
	}
	lists, idem := c.ListCache(), c.Idempotency()
	ctx := testCtx(t)
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping before the outage: %v", err)
	}
	if err := c.PutRuntime(ctx, storetest.Runtime("alice", "rt-1", "tok")); err != nil {
		t.Fatal(err)
	}

	r.Stop(t)
	calls := map[string]func(context.Context) error{
		"Ping":       c.Ping,
		"PutRuntime": func(ctx context.Context) error { return c.PutRuntime(ctx, storetest.Runtime("alice", "rt-2", "tok")) },
		"GetRuntime": func(ctx context.Context) error { _, err := c.GetRuntime(ctx, "alice", "rt-1"); return err },
		"ListRuntimes": func(ctx context.Context) error {
			_, err := c.ListRuntimes(ctx, "alice")
			return err
		},
		"DeleteRuntime": func(ctx context.Context) error { return c.DeleteRuntime(ctx, "alice", "rt-1") },
		"TakeAccessor":  func(ctx context.Context) error { _, _, err := c.TakeAccessor(ctx, "sb"); return err },
		"ListCache.Get": func(ctx context.Context) error { _, _, _, err := lists.Get(ctx, "alice"); return err },
		"ListCache.Invalidate": func(ctx context.Context) error {
			return lists.Invalidate(ctx, "alice")
		},
		"ListCache.Stamp": func(ctx context.Context) error { _, err := lists.Stamp(ctx, "alice"); return err },
		"ListCache.Update": func(ctx context.Context) error {
			return lists.Update(ctx, "alice", "1", broker.ListChange{Secret: broker.Secret{ID: "sec-1"}, Deleted: true})
		},
		"Idempotency.Begin": func(ctx context.Context) error { _, _, err := idem.Begin(ctx, "k", time.Hour); return err },
		"Limiter.Allow":     func(ctx context.Context) error { _, err := lim.Allow(ctx, "k"); return err },
	}
	for name, call := range calls {
		start := time.Now()
		err := call(context.Background()) // no deadline from the caller: the adapter's own bounds it
		took := time.Since(start)
		if !broker.IsCode(err, broker.CodeUnavailable) {
			t.Errorf("%s with Redis stopped = %v (code %q), want unavailable", name, err, broker.ErrorCode(err))
		}
		if took > opTimeout+500*time.Millisecond {
			t.Errorf("%s with Redis stopped took %s, want at most the op timeout %s", name, took, opTimeout)
		}
		var be *broker.Error
		if ok := asBroker(err, &be); ok && be.Message != "redis unavailable" {
			t.Errorf("%s: caller-facing message %q", name, be.Message)
		}
	}

	r.Start(t) // same address, empty
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := c.Ping(ctx)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Ping after Redis came back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := c.PutRuntime(ctx, storetest.Runtime("alice", "rt-3", "tok")); err != nil {
		t.Fatalf("PutRuntime after Redis came back: %v", err)
	}
	if _, err := c.GetRuntime(ctx, "alice", "rt-3"); err != nil {
		t.Fatalf("GetRuntime after Redis came back: %v", err)
	}
	if d, err := lim.Allow(ctx, "k"); err != nil || !d.Allowed {
		t.Fatalf("Allow after Redis came back: %+v, %v", d, err)
	}
}

// TestStartsWithoutRedis: a broker may start before Redis; New succeeds,
// calls answer unavailable, and work once Redis is up.
func TestStartsWithoutRedis(t *testing.T) {
	r := testenv.StartRedis(t)
	r.Stop(t)
	start := time.Now()
	c := newClient(t, r.URL, redisx.Options{Prefix: uniquePrefix(), OpTimeout: time.Second})
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("New without Redis took %s", took)
	}
	if err := c.Ping(context.Background()); !broker.IsCode(err, broker.CodeUnavailable) {
		t.Fatalf("Ping without Redis = %v, want unavailable", err)
	}
	r.Start(t)
	if err := c.Ping(testCtx(t)); err != nil {
		t.Fatalf("Ping once Redis is up: %v", err)
	}
}

func asBroker(err error, target **broker.Error) bool {
	e, ok := err.(*broker.Error)
	if ok {
		*target = e
	}
	return ok
}

// TestStalledRedis: a Redis that accepts connections but does not answer
// (a script busy for 1.5 s blocks the server) makes calls fail as unavailable within the op timeout.
func TestStalledRedis(t *testing.T) {
	r := testenv.StartRedis(t)
	const opTimeout = 500 * time.Millisecond
	c := newClient(t, r.URL, redisx.Options{Prefix: uniquePrefix(), OpTimeout: opTimeout, ReadTimeout: 300 * time.Millisecond})
	raw := rawClient(t, r.Addr)
	ctx := testCtx(t)
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- raw.Eval(ctx, busyScript, nil).Err() }()
	time.Sleep(100 * time.Millisecond) // let the script start

	start := time.Now()
	_, err := c.GetRuntime(context.Background(), "alice", "rt-1")
	took := time.Since(start)
	if !broker.IsCode(err, broker.CodeUnavailable) {
		t.Errorf("GetRuntime on a stalled Redis = %v, want unavailable", err)
	}
	if took > opTimeout+300*time.Millisecond {
		t.Errorf("GetRuntime on a stalled Redis took %s, want about the op timeout %s", took, opTimeout)
	}
	if err := <-done; err != nil {
		t.Fatalf("busy script: %v", err)
	}
	if _, err := c.GetRuntime(ctx, "alice", "rt-1"); !broker.IsCode(err, broker.CodeNotFound) {
		t.Fatalf("GetRuntime once Redis answers again = %v, want not_found", err)
	}
}

// busyScript keeps Redis busy for 1.5 s, below lua-time-limit (5 s), so that
// every other client simply waits.
const busyScript = `
local s = redis.call('TIME')
while true do
  local n = redis.call('TIME')
  if (n[1] - s[1]) * 1000000 + (n[2] - s[2]) > 1500000 then return 1 end
end`
