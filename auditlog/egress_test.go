package auditlog

import (
	"os"
	"strings"
	"testing"
)

func egressEvents(t *testing.T) []EgressEvent {
	t.Helper()
	f, err := os.Open("testdata/egressd.log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	evs, st, err := ParseEgressLog(f, "egressd.log")
	if err != nil {
		t.Fatal(err)
	}
	if st.Lines != 7 || st.Events != 4 || st.Skipped != 3 {
		t.Fatalf("stats %+v: want 7 lines, 4 events, 3 skipped", st)
	}
	return evs
}

func TestEgressLogAlertsNameSecretAndSandboxes(t *testing.T) {
	evs := egressEvents(t)
	var alerts []Alert
	for _, e := range evs {
		if a, ok := e.AsAlert(); ok {
			alerts = append(alerts, a)
		}
	}
	if len(alerts) != 3 {
		t.Fatalf("%d alerts, want 3", len(alerts))
	}
	foreign := alerts[1]
	if foreign.Kind != AlertEgress || foreign.Reason != "foreign_sandbox" || foreign.SandboxID != "sb-b" || foreign.PlaceholderSandboxID != "sb-a" ||
		!strings.Contains(foreign.Message, "sb-a") || !strings.Contains(foreign.Message, "sb-b") || !strings.Contains(foreign.Message, "sec-openai") {
		t.Fatalf("foreign alert %+v", foreign)
	}
	if !(Filter{SecretID: "sec-openai"}).MatchAlert(alerts[0]) || (Filter{SecretID: "other"}).MatchAlert(alerts[0]) {
		t.Fatal("secret filter on egress alerts")
	}
}

func TestEgressFilterBySecretAndSandbox(t *testing.T) {
	evs := egressEvents(t)
	count := func(f Filter) int {
		n := 0
		for _, e := range evs {
			if f.MatchEgress(e) {
				n++
			}
		}
		return n
	}
	for _, c := range []struct {
		f    Filter
		want int
	}{
		{Filter{SecretID: "sec-openai"}, 4},
		{Filter{SecretID: "nope"}, 0},
		{Filter{SandboxID: "sb-b"}, 1},
		{Filter{SandboxID: "sb-a"}, 4}, // its own three, and its placeholder presented by sb-b
		{Filter{RequestID: "r2"}, 1},
		{Filter{HMAC: "hmac-sha256:x"}, 0},
	} {
		if got := count(c.f); got != c.want {
			t.Errorf("filter %+v: %d events, want %d", c.f, got, c.want)
		}
	}
}
