//go:build reliability

package reliability

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestVaultStopped: Vault (Raft) stopped under load and started again.
func TestVaultStopped(t *testing.T) {
	vaultFault(t, "vault stopped under load",
		func(s *stack) { s.vault.Stop(t) }, func(s *stack) { s.vault.Start(t) })
}

// TestVaultSealed: Vault sealed under load, then unsealed.
func TestVaultSealed(t *testing.T) {
	vaultFault(t, "vault sealed, then unsealed",
		func(s *stack) { s.vault.Seal(t) }, func(s *stack) { s.vault.Unseal(t) })
}

const faultLength = 6 * time.Second

// vaultFault drives mixed load, injects a Vault outage for faultLength and
// removes it. While it lasts every request answers within the request timeout
// (the 503 envelope when it needs Vault) and /readyz answers 503; afterwards
// the same broker process recovers and every acknowledged write reads back.
func vaultFault(t *testing.T, name string, inject, remove func(*stack)) {
	r := &row{Scenario: name}
	report(t, r)
	s := newStack(t)
	b := s.startBroker(nil)
	a := newAPI(func() string { return b.URL }, reqTimeout+latencyMargin+5*time.Second, 32)
	users := s.users("vf", 8)
	probeUser := s.users("vfprobe", 1)[0]
	ld := newLoad(a, users, faultMix, 20*time.Millisecond)
	rw := watchReady(a)
	ld.start()
	time.Sleep(3 * time.Second)

	faultStart := time.Now()
	inject(s)
	time.Sleep(faultLength)
	remove(s)
	faultEnd := time.Now()
	n := 0
	r.Recovery = waitUntil(t, 60*time.Second, "the broker to recover", func() bool {
		if a.do("", "GET", "/readyz", nil).Status != 200 {
			return false
		}
		n++
		return a.do(probeUser.Key, "POST", "/api/v1/user/secrets", map[string]any{"name": fmt.Sprintf("PROBE_%d", n), "value": newValue()}).Status == 201
	})
	recovered := time.Now()
	time.Sleep(3 * time.Second)
	ld.stop()
	rw.stop()

	all := ld.snapshot()
	st := summarize(all)
	r.Requests, r.MaxLatency = st.n, st.maxLatency
	t.Logf("%d requests: %s; fault %s, recovered %s after it ended", st.n, st, faultEnd.Sub(faultStart).Round(time.Millisecond), r.Recovery.Round(time.Millisecond))
	checkLatency(t, all)
	for _, x := range failures(between(all, time.Time{}, faultStart)) {
		if x.End.Before(faultStart) {
			t.Errorf("before the fault: %s %s", x.Op, x.A)
		}
	}
	during := between(all, faultStart, recovered)
	fails := failures(during)
	r.FaultErrors = len(fails)
	if len(fails) == 0 {
		t.Errorf("no request failed during the fault: was it injected?")
	}
	for _, x := range fails {
		t.Logf("during the fault: %s at +%s took %s: %d %s", x.Op, x.Start.Sub(faultStart).Round(time.Millisecond), x.latency().Round(time.Millisecond), x.A.Status, x.A.Type)
		if x.A.Err != nil || x.A.Status != 503 || x.A.Type != "unavailable" {
			t.Errorf("during the fault %s answered %s, want the 503 unavailable envelope", x.Op, x.A)
			logFailedRequests(t, s)
		}
	}
	for _, x := range failures(all) {
		if x.Start.After(recovered) {
			t.Errorf("after recovery: %s %s", x.Op, x.A)
		}
	}
	if !rw.seen(faultStart, faultEnd, func(p probe) bool { return p.Code == 503 && p.Status == "unavailable" }) {
		t.Errorf("/readyz never answered 503 unavailable during the fault")
	}
	if !rw.seen(faultEnd, time.Now(), func(p probe) bool { return p.Code == 200 && p.Status == "ready" }) {
		t.Errorf("/readyz did not turn ready after the fault")
	}
	r.Lost = verifyAcked(t, a, s.vault.Addr, ld.ackList())
	r.Note = fmt.Sprintf("%d writes acked; 503s during fault: %d", len(ld.ackList()), st.byOutcome["503 unavailable"])
}

// checkLatency fails the test for every answer slower than the request
// timeout plus a margin (a hang).
func checkLatency(t *testing.T, rs []result) {
	t.Helper()
	slow := 0
	for _, x := range rs {
		if x.latency() > reqTimeout+latencyMargin {
			slow++
			if slow <= 5 {
				t.Errorf("%s took %s (request timeout %s): %s", x.Op, x.latency().Round(time.Millisecond), reqTimeout, x.A)
			}
		}
	}
	if slow > 5 {
		t.Errorf("%d answers slower than %s in all", slow, reqTimeout+latencyMargin)
	}
}

// logFailedRequests shows the broker's "request failed" lines (causes only:
// they never hold a value), to tell why an answer was not the 503 envelope.
func logFailedRequests(t *testing.T, s *stack) {
	t.Helper()
	for _, b := range s.brokers {
		for _, line := range strings.Split(b.logs(), "\n") {
			if strings.Contains(line, `"request failed"`) {
				t.Log(line)
			}
		}
	}
}
