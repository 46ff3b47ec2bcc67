package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/acme/secretsbroker/internal/testenv"
)

// TestAPIAuthFailLimitAcrossReplicas: the failed-authentication limit holds
// across replicas whose peeks skip Redis for addresses with no announced
// failure (both past their start window): the budget spent on replica 1
// with wrong keys makes replica 2 refuse a correct key from that address
// (429, not 200: no oracle), within the announcement's delivery. The
// announcements carry the client address only, never a key.
func TestAPIAuthFailLimitAcrossReplicas(t *testing.T) {
	e := newAPIEnv(t)
	// A private Redis: the budget is per client address (127.0.0.1), which
	// the other tests' brokers on the shared Redis also use.
	r := testenv.StartRedis(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr, DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second})
	defer rdb.Close()
	const channel = "broker:rl:" + authFailNotices
	sub := rdb.Subscribe(ctx, channel)
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}

	// 30 failures a minute (the default): one every 2s, marks last 3s. The
	// per-key limit is out of the way: every 429 below is the address's.
	lim := map[string]string{"BROKER_RATE_PER_MINUTE": "60000", "BROKER_RATE_BURST": "10000"}
	b1, b2 := e.brokerOn(r, lim), e.brokerOn(r, lim)
	_, key := e.user("authfail-rep")
	good := e.client(b2, key)
	wantStatus(t, good.do("GET", "/api/v1/user/secrets", nil), 200)
	waitFor(t, 20*time.Second, "both replicas subscribed", func() bool {
		n, err := rdb.PubSubNumSub(ctx, channel).Result()
		return err == nil && n[channel] == 3 // and this test
	})
	// Past the start window (a mark lifetime, 3s), replica 2's peek of a
	// clean address answers without Redis.
	time.Sleep(3500 * time.Millisecond)
	wantStatus(t, good.do("GET", "/api/v1/user/secrets", nil), 200)

	wrong := "sbk_" + randHex(20)
	planted.add("api key", wrong)
	passed, _ := hitLimit(t, e.client(b1, wrong), 40, "GET", "/api/v1/user/secrets")
	if passed != 30 {
		t.Errorf("%d failed authentications on replica 1 before the first 429, want 30", passed)
	}
	// The bucket refuses for one interval (2s) after the last failure taken.
	spent := time.Now()
	for {
		r := good.do("GET", "/api/v1/user/secrets", nil)
		if r.Status == http.StatusTooManyRequests {
			checkRetryAfter(t, r, 2)
			break
		}
		wantStatus(t, r, 200)
		if time.Since(spent) > time.Second {
			t.Fatal("replica 2 still answers 200 to a correct key from an address over the limit a second after replica 1 refused it")
		}
		time.Sleep(5 * time.Millisecond)
	}
	m := newClient(t, b2.AdminURL, "").do("GET", "/metrics", nil)
	wantStatus(t, m, 200)
	if !strings.Contains(string(m.Body), `broker_rate_limited_total{limiter="auth_failure"} 1`) ||
		!strings.Contains(string(m.Body), `broker_rate_limited_total{limiter="api_key"} 0`) {
		t.Error("replica 2's 429 was not the failed-authentication limit's")
	}

	n := 0
	for {
		m, err := sub.ReceiveTimeout(ctx, 100*time.Millisecond)
		if err != nil {
			break
		}
		if msg, ok := m.(*redis.Message); ok {
			n++
			if msg.Payload != "authfail:127.0.0.1" {
				t.Errorf("announcement %q, want the client address only", msg.Payload)
			}
		}
	}
	if n < 30 {
		t.Errorf("%d announcements of 30 failed authentications", n)
	}
}
