package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/acme/secretsbroker/internal/testenv"
)

// TestAPIRedisSentinel: brokerd finds Redis through Sentinel
// (REDIS_SENTINEL_ADDRS, REDIS_MASTER_NAME). Idempotency-Key replays work;
// when the master is SIGKILLed and a replica promoted, the same process
// follows the sentinels: idempotency works again without a restart.
func TestAPIRedisSentinel(t *testing.T) {
	e := newAPIEnv(t)
	rs := testenv.StartRedisSentinel(t)
	b := e.broker(false, map[string]string{"REDIS_SENTINEL_ADDRS": strings.Join(rs.SentinelAddrs, ","), "REDIS_MASTER_NAME": rs.MasterName})
	_, key := e.user("sentinel")
	c := e.client(b, key)
	// replay creates name with an Idempotency-Key and sends it again: the
	// second answer, or the first when that is not a 201.
	replay := func(name string) response {
		t.Helper()
		body := map[string]any{"name": name, "value": value("sk-sentinel")}
		ik := "idem-" + randHex(8)
		if r := c.do("POST", "/api/v1/user/secrets", body, "Idempotency-Key", ik); r.Status != 201 {
			return r
		}
		return c.do("POST", "/api/v1/user/secrets", body, "Idempotency-Key", ik)
	}
	if r := replay("BEFORE"); r.Status != 201 || r.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay through Sentinel: %d %q", r.Status, r.Header.Get("Idempotent-Replayed"))
	}
	ready := decodeObj(t, c.do("GET", "/readyz", nil))
	if ready["status"] != "ready" {
		t.Fatalf("/readyz with Redis through Sentinel: %v", ready)
	}

	old := rs.MasterNode(t)
	old.Kill(t)
	if _, err := rs.WaitFailover(context.Background(), old.Addr, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	// The promoted master holds what the broker wrote: scanned for leaks at the end.
	promoted := rs.MasterNode(t)
	t.Cleanup(func() { e.checkRedisLeaks(promoted) })
	deadline := time.Now().Add(20 * time.Second)
	for n := 0; ; n++ {
		r := replay("AFTER_" + randHex(3))
		if r.Status == 201 && r.Header.Get("Idempotent-Replayed") == "true" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("idempotency not back 20 s after the promotion: %d", r.Status)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
