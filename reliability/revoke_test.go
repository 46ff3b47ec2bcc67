//go:build reliability

package reliability

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestTokenRevoked: the broker's Vault token (and every token its AppRole
// issued) revoked under load with the root token: the broker logs in again
// with its AppRole credentials and carries on without failing a request.
func TestTokenRevoked(t *testing.T) {
	r := &row{Scenario: "broker's vault token revoked"}
	report(t, r)
	s := newStack(t)
	b := s.startBroker(nil)
	a := newAPI(func() string { return b.URL }, reqTimeout+latencyMargin+5*time.Second, 32)
	users := s.users("rv", 8)
	probeUser := s.users("rvprobe", 1)[0]
	ld := newLoad(a, users, faultMix, 20*time.Millisecond)
	ld.start()
	time.Sleep(3 * time.Second)

	root := rootClient(t, s)
	revoked := time.Now()
	if _, err := root.Logical().Write("sys/leases/revoke-prefix/auth/approle/login", map[string]any{"sync": true}); err != nil {
		t.Fatalf("revoke the AppRole's tokens: %v", err)
	}
	n := 0
	r.Recovery = waitUntil(t, 30*time.Second, "a create after the revocation", func() bool {
		n++
		return a.do(probeUser.Key, "POST", "/api/v1/user/secrets", map[string]any{"name": fmt.Sprintf("PROBE_%d", n), "value": newValue()}).Status == 201
	})
	time.Sleep(4 * time.Second)
	ld.stop()

	all := ld.snapshot()
	st := summarize(all)
	r.Requests, r.MaxLatency = st.n, st.maxLatency
	t.Logf("%d requests: %s", st.n, st)
	checkLatency(t, all)
	after := between(all, revoked, time.Now())
	r.FaultErrors = len(failures(after))
	if len(after) == 0 {
		t.Errorf("no load after the revocation")
	}
	for _, x := range failures(all) {
		t.Errorf("%s answered %s", x.Op, x.A)
	}
	logs := b.logs()
	if !strings.Contains(logs, "logging in again") {
		t.Errorf("the broker's log does not show a new login after the revocation")
	}
	r.Lost = verifyAcked(t, a, s.vault.Addr, ld.ackList())
	r.Note = fmt.Sprintf("%d requests after the revocation, re-login logged %d times", len(after), strings.Count(logs, "logging in again"))
}
