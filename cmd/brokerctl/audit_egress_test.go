package main

import (
	"os"
	"strings"
	"testing"
)

const recordedEgressLog = "../../auditlog/testdata/egressd.log"

// brokerctl audit alerts --egress-log reports egressd's tripwires (exit 3)
// naming secret and sandboxes, without a Vault audit log.
func TestAuditAlertsReadsTheEgressLog(t *testing.T) {
	r := runCLI(t, nil, "", "audit", "alerts", "--egress-log", recordedEgressLog)
	if r.code != exitAlerts {
		t.Fatalf("exit %d, want %d; stderr %s", r.code, exitAlerts, r.stderr)
	}
	for _, s := range []string{"wrong_host", "foreign_sandbox", "reflection", "sec-openai", "sb-a", "sb-b", "api.anthropic.com"} {
		if !strings.Contains(r.stdout, s) {
			t.Fatalf("alerts do not name %q:\n%s", s, r.stdout)
		}
	}
	if r := runCLI(t, nil, "", "audit", "alerts", "--egress-log", recordedEgressLog, "--sandbox", "sb-b"); r.code != exitAlerts || strings.Count(r.stdout, "egress_tripwire") != 1 {
		t.Fatalf("--sandbox sb-b: exit %d\n%s", r.code, r.stdout)
	}
	// Without --egress-log, --secret still makes no sense for alerts.
	if r := runCLI(t, nil, "", "audit", "alerts", "--secret", "x", recordedLog); r.code != 2 {
		t.Fatalf("alerts --secret without --egress-log: exit %d", r.code)
	}
}

// brokerctl audit --egress-log - --secret ID shows which sandbox used the
// secret towards which host, from stdin.
func TestAuditTimelineShowsEgressUseOfASecret(t *testing.T) {
	b, err := os.ReadFile(recordedEgressLog)
	if err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, nil, string(b), "audit", "--egress-log", "-", "--secret", "sec-openai")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "sb-a") || !strings.Contains(r.stdout, "api.openai.com") || !strings.Contains(r.stdout, "substituted") || strings.Count(r.stdout, "\n") != 5 {
		t.Fatalf("timeline:\n%s", r.stdout)
	}
	r = runCLI(t, nil, "", "audit", "--egress-log", recordedEgressLog, "--secret", "other", recordedLog)
	if r.code != 0 || !strings.Contains(r.stdout, "no matching egress events") {
		t.Fatalf("other secret: exit %d\n%s", r.code, r.stdout)
	}
}
