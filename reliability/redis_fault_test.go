//go:build reliability

package reliability

import (
	"fmt"
	"testing"
	"time"

	"github.com/acme/secretsbroker/internal/testenv"
)

// hammer sends n list requests as fast as it can and returns how many
// answered 429.
func hammer(a *api, key string, n int) int {
	limited := 0
	for range n {
		if a.do(key, "GET", "/api/v1/user/secrets", nil).Status == 429 {
			limited++
		}
	}
	return limited
}

// idempotentCreate sends one create twice with the same Idempotency-Key and
// returns both answers.
func idempotentCreate(a *api, key, name string) (answer, answer) {
	body := map[string]any{"name": name, "value": newValue()}
	ik := "ik-" + randHex(8)
	first := a.do(key, "POST", "/api/v1/user/secrets", body, "Idempotency-Key", ik)
	return first, a.do(key, "POST", "/api/v1/user/secrets", body, "Idempotency-Key", ik)
}

// TestRedisKilled: Redis killed under load. Secret reads and writes keep
// working (Vault is the truth); the per-key rate limit fails open; a POST
// with an Idempotency-Key answers 503 (a retry could create twice without
// the store); /readyz says degraded. When Redis returns, limits and
// idempotency work again, and nothing in Redis holds a value in clear.
func TestRedisKilled(t *testing.T) {
	r := &row{Scenario: "redis killed under load"}
	report(t, r)
	s := newStack(t)
	b := s.startBroker(map[string]string{"BROKER_RATE_PER_MINUTE": "1200", "BROKER_RATE_BURST": "40"})
	a := newAPI(func() string { return b.URL }, reqTimeout+latencyMargin+5*time.Second, 32)
	users := s.users("rk", 6)
	extra := s.users("rkx", 2)
	limitUser, idemUser := extra[0], extra[1]

	if n := hammer(a, limitUser.Key, 80); n == 0 {
		t.Errorf("before the fault: 80 quick requests over a burst of 40 were never limited")
	}
	if first, again := idempotentCreate(a, idemUser.Key, "IDEM_BEFORE"); first.Status != 201 || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("before the fault: idempotent create %s, replay %s", first, again)
	}

	ld := newLoad(a, users, secretMix, 80*time.Millisecond)
	rw := watchReady(a)
	ld.start()
	time.Sleep(3 * time.Second)
	if dump, n, err := testenv.DumpRedis(s.redis.Addr); err != nil {
		t.Errorf("dump Redis before the fault: %v", err)
	} else if l, v := leaks([]byte(dump)); l > 0 {
		t.Errorf("LEAK: Redis (%d keys) holds %d planted values before the fault (%s)", n, l, v)
	}

	faultStart := time.Now()
	s.redis.Stop(t)
	time.Sleep(time.Second)
	limited := hammer(a, limitUser.Key, 80)
	if limited != 0 {
		t.Errorf("during the fault: %d of 80 requests limited, want the limit to fail open", limited)
	}
	first, _ := idempotentCreate(a, idemUser.Key, "IDEM_DURING")
	if first.Status != 503 || first.Type != "unavailable" {
		t.Errorf("during the fault: a POST with an Idempotency-Key answered %s, want 503 unavailable", first)
	}
	plain := a.do(idemUser.Key, "POST", "/api/v1/user/secrets", map[string]any{"name": "PLAIN_DURING", "value": newValue()})
	if plain.Status != 201 {
		t.Errorf("during the fault: a create without an Idempotency-Key answered %s, want 201", plain)
	}
	prov := a.do(idemUser.Key, "POST", "/api/v1/runtimes", map[string]any{"project_id": "p", "secret_ids": []string{}})
	if prov.Status != 201 {
		t.Errorf("during the fault: provisioning answered %s, want 201 (records are in Vault)", prov)
	}
	time.Sleep(faultLength - time.Since(faultStart))
	s.redis.Start(t)
	faultEnd := time.Now()
	r.Recovery = waitUntil(t, 60*time.Second, "/readyz to say ready again", func() bool {
		var body struct {
			Status string `json:"status"`
		}
		res := a.do("", "GET", "/readyz", nil)
		return res.Status == 200 && res.decode(&body) == nil && body.Status == "ready"
	})
	time.Sleep(3 * time.Second)
	ld.stop()
	rw.stop()

	if n := hammer(a, limitUser.Key, 80); n == 0 {
		t.Errorf("after the fault: the rate limit did not come back")
	}
	if first, again := idempotentCreate(a, idemUser.Key, "IDEM_AFTER"); first.Status != 201 || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("after the fault: idempotent create %s, replay %s", first, again)
	}

	all := ld.snapshot()
	st := summarize(all)
	r.Requests, r.MaxLatency = st.n, st.maxLatency
	t.Logf("%d requests: %s", st.n, st)
	checkLatency(t, all)
	during := between(all, faultStart, faultEnd)
	r.FaultErrors = len(failures(during))
	if len(during) == 0 {
		t.Errorf("no load during the fault")
	}
	for _, x := range failures(all) {
		t.Errorf("%s answered %s: secret reads and writes must keep working without Redis", x.Op, x.A)
	}
	if !rw.seen(faultStart, faultEnd, func(p probe) bool { return p.Code == 200 && p.Status == "degraded" && p.Redis == "unavailable" }) {
		t.Errorf("/readyz never said degraded (redis unavailable) during the fault")
	}
	if rw.seen(faultStart, faultEnd, func(p probe) bool { return p.Code != 200 }) {
		t.Errorf("/readyz answered non-200 during a Redis outage (Redis is optional)")
	}
	r.Lost = verifyAcked(t, a, s.vault.Addr, ld.ackList())
	r.Note = fmt.Sprintf("%d reqs during fault; limit fail-open (0/80 limited); Idempotency-Key POST %d; provisioning %d", len(during), first.Status, prov.Status)
	// The leak scan of Redis (after it returned and took writes) runs at cleanup.
}
