package auditlog

import (
	"testing"
	"time"
)

func TestFilter(t *testing.T) {
	entries, s := readAll(t, scenarioLog(t))
	count := func(f Filter) (n int) {
		for _, e := range entries {
			if f.Match(e) {
				n++
			}
		}
		return n
	}
	all := count(Filter{})
	if all != len(entries) || !(Filter{}).Empty() {
		t.Fatal("empty filter drops entries")
	}
	user := count(Filter{User: scenarioUser})
	sandbox := count(Filter{SandboxID: scenarioUsed})
	req := count(Filter{RequestID: "req-rotate"})
	secret := count(Filter{SecretID: scenarioSecret})
	acc := count(Filter{HMAC: scenarioUsedAcc})
	if user == 0 || user >= all || req != 6 || secret == 0 || secret >= user || count(Filter{User: "nobody"}) != 0 {
		t.Fatalf("user %d, request %d, secret %d of %d", user, req, secret, all)
	}
	// The used sandbox: provision calls, sandbox-init's lookup and unwrap,
	// the replays and the denied probe.
	if sandbox != 10 {
		t.Fatalf("sandbox filter: %d entries, want 10", sandbox)
	}
	// Its accessor: the wrapped read, the unwrap and, linked by the token,
	// the lookups and the replayed unwrap.
	if acc != 5 {
		t.Fatalf("accessor filter: %d entries, want 5", acc)
	}
	if n := count(Filter{HMAC: scenarioRevokeAcc}); n != 2 {
		t.Fatalf("revoked accessor: %d entries, want 2 (wrapped read, revoke)", n)
	}
	mid := entries[len(entries)/2].Time
	before, after := count(Filter{Until: mid}), count(Filter{Since: mid})
	if before+after != all || before == 0 || after == 0 {
		t.Fatalf("since/until split %d + %d != %d", before, after, all)
	}
	as := s.Alerts(s.LastTime().Add(time.Hour))
	var replays, forUnused int
	for _, a := range as {
		if (Filter{HMAC: scenarioUsedAcc}).MatchAlert(a) {
			replays++
		}
		if (Filter{SandboxID: scenarioUnused, User: scenarioUser}).MatchAlert(a) {
			forUnused++
		}
		if (Filter{SecretID: scenarioSecret}).MatchAlert(a) {
			t.Fatal("an alert matched a secret filter")
		}
	}
	if replays != 2 || forUnused != 1 {
		t.Fatalf("alert filters: %d by accessor, %d for the unused sandbox", replays, forUnused)
	}
}
