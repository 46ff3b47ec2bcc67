package redisx_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/inproc/storetest"
	"github.com/acme/secretsbroker/internal/testenv"
	"github.com/acme/secretsbroker/redisx"
)

// TestSentinelFailover: a client made by NewFailover writes to the master the
// sentinels name; when that master is SIGKILLed and a replica promoted, the same
// client follows the sentinels to it: records, the rate limiter and idempotency
// keys work again without a restart.
func TestSentinelFailover(t *testing.T) {
	rs := testenv.StartRedisSentinel(t)
	c, err := redisx.NewFailover(context.Background(), redisx.Sentinel{Addrs: rs.SentinelAddrs, MasterName: rs.MasterName},
		redisx.Options{Prefix: uniquePrefix(), OpTimeout: time.Second}, zerolog.New(zerolog.NewTestWriter(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	lim, err := redisx.NewLimiter(c, 100, time.Second, 100)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	if err := c.PutRuntime(ctx, storetest.Runtime("alice", "rt-1", "tok")); err != nil {
		t.Fatalf("PutRuntime through the sentinels: %v", err)
	}
	master := rs.MasterNode(t)
	if n := rawClient(t, master.Addr).Exists(ctx, "nonexistent").Val(); n != 0 {
		t.Fatal("raw client broken")
	}

	killed := time.Now()
	master.Kill(t)
	if _, err := rs.WaitFailover(ctx, master.Addr, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	var last error
	deadline := time.Now().Add(15 * time.Second)
	for {
		last = c.PutRuntime(ctx, storetest.Runtime("alice", "rt-2", "tok"))
		if last == nil {
			break
		}
		if !broker.IsCode(last, broker.CodeUnavailable) {
			t.Fatalf("PutRuntime during the failover: %v (code %q), want unavailable", last, broker.ErrorCode(last))
		}
		if time.Now().After(deadline) {
			t.Fatalf("PutRuntime still failing 15 s after the promotion: %v", last)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("writes work again %s after the master was killed", time.Since(killed).Round(time.Millisecond))
	if _, err := c.GetRuntime(ctx, "alice", "rt-2"); err != nil {
		t.Fatalf("GetRuntime after the failover: %v", err)
	}
	if _, err := lim.Allow(ctx, "k"); err != nil {
		t.Fatalf("Limiter.Allow after the failover: %v", err)
	}
	idem := c.Idempotency()
	if _, claimed, err := idem.Begin(ctx, "ik", time.Minute); err != nil || !claimed {
		t.Fatalf("Idempotency.Begin after the failover: claimed %v, %v", claimed, err)
	}
	if _, claimed, err := idem.Begin(ctx, "ik", time.Minute); !broker.IsCode(err, broker.CodeConflict) || claimed {
		t.Fatalf("second Begin after the failover: claimed %v, %v, want conflict", claimed, err)
	}
}

// TestCheckSentinel: bad settings are refused before any connection, without
// repeating a password.
func TestCheckSentinel(t *testing.T) {
	for _, s := range []redisx.Sentinel{
		{MasterName: "m"},
		{Addrs: []string{"127.0.0.1"}, MasterName: "m"},
		{Addrs: []string{"127.0.0.1:0"}, MasterName: "m"},
		{Addrs: []string{"127.0.0.1:26379"}},
		{Addrs: []string{"127.0.0.1:26379"}, MasterName: "m", DB: -1, Password: "hunter2-secret"},
	} {
		err := redisx.CheckSentinel(s)
		if !broker.IsCode(err, broker.CodeInvalid) {
			t.Errorf("CheckSentinel(%v addrs, master %q) = %v, want invalid", s.Addrs, s.MasterName, err)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error repeats the password: %v", err)
		}
	}
	if err := redisx.CheckSentinel(redisx.Sentinel{Addrs: []string{"127.0.0.1:26379", "redis-sentinel:26379"}, MasterName: "m"}); err != nil {
		t.Errorf("valid settings refused: %v", err)
	}
}
