package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acme/secretsbroker/auditlog"
)

// brokerCaused reports whether the broker's own token made the call on
// behalf of a user (its AppRole token; logins and renewals are the
// broker's housekeeping, made for nobody).
func brokerCaused(e auditlog.Entry) bool {
	return e.DisplayName == "approle" && e.Call != auditlog.ActionLogin && e.Call != auditlog.ActionRenew &&
		!strings.HasPrefix(e.Path, "auth/token/lookup")
}

func TestAuditScenarioAgainstVault(t *testing.T) {
	sc := runAuditScenario(t)

	r := runCLI(t, nil, "", "--json", "audit", sc.logPath)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("timeline: exit %d: %s", r.code, r.stderr)
	}
	entries := decodeEntries(t, r.stdout)
	wantAction := map[string]auditlog.Action{
		"req-create": auditlog.ActionCreate, "req-rotate": auditlog.ActionRotate, "req-list": auditlog.ActionList,
		"req-provision": auditlog.ActionProvision, "req-provision-unused": auditlog.ActionProvision,
		"req-provision-revoked": auditlog.ActionProvision, "req-runtime-delete": auditlog.ActionRevoke,
		"req-delete": auditlog.ActionDelete,
	}
	var brokerCalls int
	actions := map[auditlog.Action]int{}
	for _, e := range entries {
		actions[e.Action]++
		if !brokerCaused(e) {
			continue
		}
		brokerCalls++
		// Every call the broker made names the user and the request.
		if e.User != sc.user || !slices.Contains(sc.requestIDs, e.RequestID) {
			t.Errorf("broker call %s %s names user %q, request %q", e.Operation, e.Path, e.User, e.RequestID)
		}
		if e.Via != "" {
			t.Errorf("broker call %s carries its own headers, not a token's: via %q", e.Path, e.Via)
		}
		if want := wantAction[e.RequestID]; e.Action != want {
			t.Errorf("%s %s: action %s, want %s", e.RequestID, e.Path, e.Action, want)
		}
	}
	if brokerCalls < 30 {
		t.Fatalf("only %d broker calls in the timeline", brokerCalls)
	}
	for _, a := range []auditlog.Action{auditlog.ActionCreate, auditlog.ActionRotate, auditlog.ActionList, auditlog.ActionProvision,
		auditlog.ActionUnwrap, auditlog.ActionLookup, auditlog.ActionRevoke, auditlog.ActionDelete, auditlog.ActionLogin} {
		if actions[a] == 0 {
			t.Errorf("no %s in the timeline (%v)", a, actions)
		}
	}
	// The sandbox's calls carry no broker headers: they are linked to the
	// provisioning through the bootstrap token, replay included.
	var sandboxCalls []string
	for _, e := range entries {
		if e.Call != auditlog.ActionUnwrap && e.Call != auditlog.ActionLookup {
			continue
		}
		if e.Via != auditlog.ViaToken || e.User != sc.user || e.RequestID != "req-provision" ||
			e.SandboxID != sc.used.Sandbox.ID || e.RuntimeID != sc.used.ID {
			t.Errorf("sandbox call not linked to its provisioning: %+v", e)
		}
		sandboxCalls = append(sandboxCalls, string(e.Call)+":"+e.Outcome)
	}
	if got := strings.Join(sandboxCalls, " "); got != "lookup:ok unwrap:ok unwrap:error lookup:error" {
		t.Fatalf("sandbox calls: %s", got)
	}
	t.Logf("timeline: %d entries, %d broker calls all naming user and request id; actions %v", len(entries), brokerCalls, actions)

	// The table names them too.
	table := runCLI(t, nil, "", "audit", sc.logPath, "--request-id", "req-provision")
	if table.code != 0 || !strings.Contains(table.stdout, "error: wrapping token is not valid or does not exist") {
		t.Fatalf("table: %+v", table)
	}
	for _, row := range strings.Split(strings.TrimSpace(table.stdout), "\n")[1:] {
		if !strings.Contains(row, sc.user) || !strings.HasSuffix(row, "req-provision") {
			t.Fatalf("table row without user or request id: %q", row)
		}
	}

	// Alerts: the replay (as unwrap and as lookup) and the denied probe;
	// exit 3.
	al := runCLI(t, nil, "", "audit", "alerts", sc.logPath)
	if al.code != exitAlerts {
		t.Fatalf("alerts: exit %d, want %d: %s", al.code, exitAlerts, al.stderr)
	}
	if !strings.Contains(al.stdout, "REPLAY") || !strings.Contains(al.stdout, sc.used.Sandbox.ID) {
		t.Fatalf("alerts table:\n%s", al.stdout)
	}
	as := decodeAlerts(t, runCLI(t, nil, "", "--json", "audit", "alerts", sc.logPath).stdout)
	var kinds []string
	for _, a := range as {
		kinds = append(kinds, string(a.Kind)+"/"+a.Reason)
		if a.Kind == auditlog.AlertFailedUnwrap && (a.SandboxID != sc.used.Sandbox.ID || a.User != sc.user || a.RequestID != "req-provision") {
			t.Errorf("replay alert %+v", a)
		}
	}
	if got := strings.Join(kinds, " "); got != "failed_unwrap/replay failed_unwrap/replay permission_denied/" {
		t.Fatalf("alerts: %s", got)
	}
	// Judged after the wrap TTL: the unused token expired unused; the
	// revoked one and the unwrapped one did not.
	later := decodeAlerts(t, runCLI(t, nil, "", "--json", "audit", "alerts", sc.logPath,
		"--now", sc.end.Add(10*time.Minute).Format(time.RFC3339)).stdout)
	var expired []string
	for _, a := range later {
		if a.Kind == auditlog.AlertExpiredUnused {
			expired = append(expired, a.SandboxID)
		}
	}
	if len(expired) != 1 || expired[0] != sc.unused.Sandbox.ID {
		t.Fatalf("expired unused: %v, want [%s] (revoked %s)", expired, sc.unused.Sandbox.ID, sc.revoked.Sandbox.ID)
	}
	t.Logf("alerts: %s; 10 min later also expired_unused for %s", strings.Join(kinds, ", "), expired[0])
}

func TestAuditMatchAccessorAgainstVault(t *testing.T) {
	sc := runAuditScenario(t)
	env := map[string]string{"VAULT_ADDR": sc.vault.Addr, "VAULT_TOKEN": sc.vault.Token}
	r := runCLI(t, env, "", "--json", "audit", sc.logPath, "--match", sc.accessor, "--audit-device", sc.device)
	if r.code != 0 {
		t.Fatalf("--match: exit %d: %s", r.code, r.stderr)
	}
	var calls []string
	var hashed string
	for _, e := range decodeEntries(t, r.stdout) {
		if e.Path == "sys/audit-hash/"+sc.device {
			continue // --match's own question to Vault holds the value too
		}
		if e.SandboxID != sc.used.Sandbox.ID {
			t.Errorf("matched an entry of another sandbox: %+v", e)
		}
		if e.Wrapped != nil {
			hashed = e.Wrapped.Accessor
		}
		calls = append(calls, string(e.Call)+":"+e.Outcome)
	}
	if got := strings.Join(calls, " "); got != "provision:ok lookup:ok unwrap:ok unwrap:error lookup:error" {
		t.Fatalf("--match %s found: %s", sc.accessor, got)
	}
	// Offline, with the HMAC itself.
	r2 := runCLI(t, nil, "", "--json", "audit", sc.logPath, "--match", hashed)
	if r2.code != 0 || len(decodeEntries(t, r2.stdout)) < len(calls) {
		t.Fatalf("--match with the HMAC: %+v", r2)
	}
	// The accessor of the unused token matches nothing of the used one.
	r3 := runCLI(t, env, "", "--json", "audit", sc.logPath, "--match", "not-an-accessor", "--audit-device", sc.device)
	for _, e := range decodeEntries(t, r3.stdout) {
		if e.Path != "sys/audit-hash/"+sc.device {
			t.Fatalf("an unknown value matched %+v", e)
		}
	}
	// A wrong device is Vault's error: exit 1, one line, no value in it.
	r4 := runCLI(t, env, "", "audit", sc.logPath, "--match", sc.accessor, "--audit-device", "no-such-device")
	if r4.code != 1 || strings.Contains(r4.stderr, sc.accessor) {
		t.Fatalf("wrong device: %+v", r4)
	}
	oneErrorLine(t, r4)
	t.Logf("--match found %s", strings.Join(calls, ", "))
}

func TestAuditMalformedAgainstVault(t *testing.T) {
	sc := runAuditScenario(t)
	clean := runCLI(t, nil, "", "--json", "audit", sc.logPath)
	b, err := os.ReadFile(sc.logPath)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "damaged.log")
	damaged := append(slices.Clone(b), "this is not JSON\n{\"type\":\"request\",\"time\":\n\x00\x01\x02\n{\"half\":"...)
	if err := os.WriteFile(p, damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, nil, "", "--json", "audit", p)
	if r.code != 0 || !strings.HasPrefix(r.stderr, "4 malformed lines skipped") {
		t.Fatalf("timeline of a damaged log: exit %d, stderr %q", r.code, r.stderr)
	}
	if got, want := len(decodeEntries(t, r.stdout)), len(decodeEntries(t, clean.stdout)); got != want {
		t.Fatalf("%d entries from the damaged copy, %d from the log", got, want)
	}
	al := runCLI(t, nil, "", "audit", "alerts", p)
	if al.code != exitAlerts || !strings.Contains(al.stderr, "4 malformed lines skipped") || !strings.Contains(al.stdout, "REPLAY") {
		t.Fatalf("alerts of a damaged log: %+v", al)
	}
	t.Logf("damaged copy: %s", strings.TrimSpace(strings.Split(r.stderr, "\n")[0]))
}
