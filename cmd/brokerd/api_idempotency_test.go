package main

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/acme/secretsbroker/internal/testenv"
)

// TestAPIIdempotencyClaimIsShortLived: while a POST with an Idempotency-Key
// runs, its claim in Redis lives about as long as a request may (so a replica
// that dies mid-request blocks retries of that key for minutes, not for the
// 24 hours a completed answer is kept), and the completed answer is then
// kept for 24 hours.
func TestAPIIdempotencyClaimIsShortLived(t *testing.T) {
	e := newAPIEnv(t)
	r := testenv.StartRedis(t)
	b := e.brokerOn(r, map[string]string{"BROKER_REQUEST_TIMEOUT": "30s"})
	_, key := e.user("claim")
	c := e.client(b, key)
	id := str(t, secretOf(t, c.do("POST", "/api/v1/user/secrets", map[string]any{"name": "CLAIMED", "value": value("sk-claim")})), "id")

	rc := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer rc.Close()
	// A slow POST: an evaluation of many items (two bootstraps each).
	items := make([]any, 120)
	for i := range items {
		items[i] = map[string]any{"name": "item"}
	}
	var wg sync.WaitGroup
	var res response
	var rerr error
	done := make(chan struct{})
	wg.Go(func() {
		defer close(done)
		res, rerr = c.try("POST", "/api/v1/evaluations", map[string]any{"project_id": "p", "secret_ids": []string{id}, "items": items},
			"Idempotency-Key", "slow-"+randHex(6))
	})
	var pendingTTL time.Duration
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
poll:
	for pendingTTL == 0 {
		select {
		case <-done:
			break poll
		default:
		}
		keys, err := rc.Keys(ctx, "*idem:*").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			v, err := rc.Get(ctx, k).Result()
			if err == nil && strings.Contains(v, "pending") {
				pendingTTL, _ = rc.PTTL(ctx, k).Result()
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	wg.Wait()
	if rerr != nil {
		t.Fatal(rerr)
	}
	wantStatus(t, res, 201)
	if pendingTTL == 0 {
		t.Skip("the evaluation finished before its claim could be observed")
	}
	if pendingTTL > 5*time.Minute {
		t.Errorf("an in-flight claim lives %s: a replica dying now blocks retries of the key that long", pendingTTL.Round(time.Second))
	}
	keys, _ := rc.Keys(ctx, "*idem:*").Result()
	if len(keys) != 1 {
		t.Fatalf("idempotency keys %v", keys)
	}
	if ttl, _ := rc.PTTL(ctx, keys[0]).Result(); ttl < 23*time.Hour {
		t.Errorf("completed answer kept for %s, want 24h", ttl)
	}
	for _, sb := range arr(t, decodeObj(t, res), "items") {
		for _, k := range []string{"runtime_sandbox", "task_sandbox"} {
			planted.add("bootstrap token", obj(t, obj(t, sb.(map[string]any), k), "bootstrap")["token"].(string))
		}
	}
}
