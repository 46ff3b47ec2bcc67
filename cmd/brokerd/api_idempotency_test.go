package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	neturl "net/url"
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
// kept for 24 hours. The evaluation is held at its first bundle write by a
// gate in front of the real Vault, so the claim is always observed.
func TestAPIIdempotencyClaimIsShortLived(t *testing.T) {
	e := newAPIEnv(t)
	r := testenv.StartRedis(t)
	gateAddr, release := gatedVault(t, e.vault.Addr, "/data/sandboxes/")
	b := e.brokerOn(r, map[string]string{"BROKER_REQUEST_TIMEOUT": "30s", "VAULT_ADDR": gateAddr})
	_, key := e.user("claim")
	c := e.client(b, key)
	id := str(t, secretOf(t, c.do("POST", "/api/v1/user/secrets", map[string]any{"name": "CLAIMED", "value": value("sk-claim")})), "id")

	rc := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer rc.Close()
	var wg sync.WaitGroup
	var res response
	var rerr error
	wg.Go(func() {
		res, rerr = c.try("POST", "/api/v1/evaluations", map[string]any{"project_id": "p", "secret_ids": []string{id}, "items": []any{map[string]any{"name": "item"}}},
			"Idempotency-Key", "slow-"+randHex(6))
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var pendingTTL time.Duration
	waitFor(t, 20*time.Second, "the in-flight claim in Redis", func() bool {
		keys, err := rc.Keys(ctx, "*idem:*").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if v, err := rc.Get(ctx, k).Result(); err == nil && strings.Contains(v, "pending") {
				pendingTTL, _ = rc.PTTL(ctx, k).Result()
			}
		}
		return pendingTTL > 0
	})
	release()
	wg.Wait()
	if rerr != nil {
		t.Fatal(rerr)
	}
	wantStatus(t, res, 201)
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

// gatedVault is a reverse proxy in front of the real Vault at addr that holds
// every request whose path contains hold until release is called (or the
// test ends), and passes everything else straight through.
func gatedVault(t *testing.T, addr, hold string) (url string, release func()) {
	t.Helper()
	target, err := neturl.Parse(addr)
	if err != nil {
		t.Fatal(err)
	}
	gate := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, hold) {
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(release) // runs before srv.Close: no request stays held
	return srv.URL, release
}
