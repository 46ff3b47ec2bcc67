package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acme/secretsbroker/auditlog"
	"github.com/acme/secretsbroker/internal/testenv"
)

// recordedLog is a real Vault audit log of the audit scenario (see
// TestAuditRecordScenario and auditlog/helpers_test.go).
const recordedLog = "../../auditlog/testdata/scenario.log"

const (
	recUsedSandbox = "396e162f-9cd7-48dc-8c79-1353f472f299"
	recUsedAcc     = "hmac-sha256:c534c49dcb3866cf8f81a4115173eccce2931f63497a29035d1cbcde5d7d09d2"
)

// decodeEntries decodes JSON lines of entries.
func decodeEntries(t *testing.T, out string) []auditlog.Entry {
	t.Helper()
	var es []auditlog.Entry
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e auditlog.Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("stdout line %q: %v", sc.Text(), err)
		}
		es = append(es, e)
	}
	return es
}

func decodeAlerts(t *testing.T, out string) []auditlog.Alert {
	t.Helper()
	var as []auditlog.Alert
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var a auditlog.Alert
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			t.Fatalf("stdout line %q: %v", l, err)
		}
		as = append(as, a)
	}
	return as
}

func TestAuditTimelineTable(t *testing.T) {
	r := runCLI(t, nil, "", "audit", recordedLog, "--request-id", "req-rotate")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	rows := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(rows) != 7 || !strings.HasPrefix(rows[0], "TIME") || !strings.Contains(rows[0], "REQUEST ID") {
		t.Fatalf("table:\n%s", r.stdout)
	}
	for _, row := range rows[1:] {
		f := strings.Fields(row)
		if len(f) != 7 || f[1] != "alice-audit" || f[2] != "rotate" || f[5] != "ok" || f[6] != "req-rotate" {
			t.Fatalf("row %q", row)
		}
	}
	// The explicit subcommand and stdin give the same.
	b, err := os.ReadFile(recordedLog)
	if err != nil {
		t.Fatal(err)
	}
	r2 := runCLI(t, nil, string(b), "audit", "timeline", "-", "--request-id", "req-rotate")
	if r2.code != 0 || r2.stdout != r.stdout {
		t.Fatalf("stdin: exit %d\n%s\n%s", r2.code, r2.stdout, r2.stderr)
	}
	none := runCLI(t, nil, "", "audit", recordedLog, "--user", "nobody")
	if none.code != 0 || strings.TrimSpace(none.stdout) != "no matching entries" {
		t.Fatalf("no match: %+v", none)
	}
}

func TestAuditTimelineFilters(t *testing.T) {
	all := decodeEntries(t, runCLI(t, nil, "", "--json", "audit", recordedLog).stdout)
	if len(all) != 61 {
		t.Fatalf("%d entries, want 61", len(all))
	}
	count := func(args ...string) int {
		t.Helper()
		r := runCLI(t, nil, "", append([]string{"audit", recordedLog, "--json"}, args...)...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d: %s", args, r.code, r.stderr)
		}
		return len(decodeEntries(t, r.stdout))
	}
	mid := all[30].Time.Format(time.RFC3339Nano)
	for _, c := range []struct {
		args []string
		want int
	}{
		{[]string{"--user", "alice-audit"}, 39}, // 8 broker requests (34 calls) + 5 sandbox calls

		{[]string{"--sandbox", recUsedSandbox}, 10},
		{[]string{"--request-id", "req-provision"}, 9},                     // 5 broker calls + lookup, unwrap and their replays
		{[]string{"--secret", "3a8a22c9-5e2f-49dc-9c2f-fb936895d17a"}, 34}, // every request but the runtime delete
		{[]string{"--match", recUsedAcc}, 5},
		{[]string{"--since", mid}, 31},
		{[]string{"--until", mid}, 30},
		{[]string{"--user", "alice-audit", "--sandbox", recUsedSandbox, "--since", mid}, 9}, // the denied probe names no user
	} {
		if got := count(c.args...); got != c.want {
			t.Errorf("%v: %d entries, want %d", c.args, got, c.want)
		}
	}
}

func TestAuditUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"audit", recordedLog, "--since", "last tuesday"},
		{"audit", recordedLog, "--since", "2030-01-02", "--until", "2030-01-01"},
		{"audit", "alerts", recordedLog, "--secret", "s1"},
		{"audit", "alerts", recordedLog, "--now", "soon"},
		{"audit", recordedLog, "--match", "some-accessor"},                                        // no Vault
		{"audit", recordedLog, "--match", "acc", "--vault-addr", "http://127.0.0.1:1"},            // no token
		{"audit", recordedLog, "--match", "acc", "--vault-addr", "ftp://x", "--vault-token", "t"}, // bad address
	} {
		r := runCLI(t, nil, "", args...)
		if r.code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, r.code, r.stderr)
			continue
		}
		oneErrorLine(t, r)
	}
	r := runCLI(t, nil, "", "audit", filepath.Join(t.TempDir(), "absent.log"))
	if r.code != 1 || !strings.Contains(oneErrorLine(t, r), "no such file") {
		t.Fatalf("absent file: %+v", r)
	}
}

func TestAuditMalformedLines(t *testing.T) {
	b, err := os.ReadFile(recordedLog)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "audit.log")
	garbage := append(append([]byte("not json at all\n"), b[:len(b)/3]...), "\n\x00\xff{\"type\":\"request\"\n"...)
	if err := os.WriteFile(p, append(append(garbage, b...), "trailing half a line {\"ty"...), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, nil, "", "--json", "audit", p)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	// line 1, the cut line, the garbage line, the half line at EOF.
	if !strings.HasPrefix(r.stderr, "4 malformed lines skipped (line 1, ") {
		t.Fatalf("stderr %q", r.stderr)
	}
	// The whole log is still there (plus the calls of the first third,
	// read twice).
	es := decodeEntries(t, r.stdout)
	var deletes int
	for _, e := range es {
		if e.RequestID == "req-delete" {
			deletes++
		}
	}
	if deletes != 5 || len(es) < 61 {
		t.Fatalf("%d entries, %d of req-delete", len(es), deletes)
	}
	a := runCLI(t, nil, "", "audit", "alerts", p)
	if a.code != exitAlerts || !strings.Contains(a.stderr, "4 malformed lines skipped") {
		t.Fatalf("alerts on a damaged log: exit %d, stderr %q", a.code, a.stderr)
	}
}

func TestAuditAlerts(t *testing.T) {
	r := runCLI(t, nil, "", "--json", "audit", "alerts", recordedLog)
	if r.code != exitAlerts {
		t.Fatalf("exit %d, want %d: %s", r.code, exitAlerts, r.stderr)
	}
	if !strings.Contains(r.stderr, "3 alert(s)") {
		t.Fatalf("stderr %q", r.stderr)
	}
	as := decodeAlerts(t, r.stdout)
	if len(as) != 3 || as[0].Kind != auditlog.AlertFailedUnwrap || as[0].Reason != auditlog.ReasonReplay ||
		as[0].User != "alice-audit" || as[0].RequestID != "req-provision" || as[0].SandboxID != recUsedSandbox ||
		as[2].Kind != auditlog.AlertPermissionDenied {
		t.Fatalf("alerts %+v", as)
	}
	// Judged later, the unused token has expired.
	later := decodeAlerts(t, runCLI(t, nil, "", "--json", "audit", "alerts", recordedLog, "--now", "2030-01-01T00:00:00Z").stdout)
	if len(later) != 4 || later[3].Kind != auditlog.AlertExpiredUnused || later[3].RequestID != "req-provision-unused" {
		t.Fatalf("alerts later %+v", later)
	}
	// Filters apply; no alert left means exit 0.
	clean := runCLI(t, nil, "", "audit", "alerts", recordedLog, "--user", "bob")
	if clean.code != 0 || clean.stdout != "" || strings.TrimSpace(clean.stderr) != "no alerts" {
		t.Fatalf("no alerts: %+v", clean)
	}
	// sandbox-init's own log adds creation-path failures.
	sl := filepath.Join(t.TempDir(), "sandbox-init.log")
	line := `{"level":"error","cmd":"sandbox-init","mode":"write","sandbox_id":"sb-x","creation_path":"broker/data/sandboxes/sb-x","exit":5,"vault_calls":1,"alert":true,"time":"2026-11-28T13:00:06Z","message":"bootstrap token has creation path \"sys/wrapping/wrap\", want \"broker/data/sandboxes/sb-x\""}` + "\nworkload output\n"
	if err := os.WriteFile(sl, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	withSB := runCLI(t, nil, "", "audit", "alerts", recordedLog, "--sandbox-log", sl, "--sandbox", "sb-x")
	if withSB.code != exitAlerts || !strings.Contains(withSB.stdout, "creation_path_mismatch") || strings.Contains(withSB.stdout, "replay") {
		t.Fatalf("sandbox log: %+v", withSB)
	}
}

// waitFor polls buf until it contains want (or fails after 10s).
func waitFor(t *testing.T, buf *testenv.SyncBuffer, want string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(buf.String(), want) < n {
		if time.Now().After(deadline) {
			t.Fatalf("output never held %d x %q:\n%s", n, want, buf.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAuditFollow(t *testing.T) {
	b, err := os.ReadFile(recordedLog)
	if err != nil {
		t.Fatal(err)
	}
	split := bytes.Index(b, []byte(`"req-list"`))
	split = bytes.LastIndexByte(b[:split], '\n') + 1
	p := filepath.Join(t.TempDir(), "audit.log")
	if err := os.WriteFile(p, b[:split+10], 0o600); err != nil { // ends mid-line
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb testenv.SyncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--json", "audit", p, "--follow", "--poll", "20ms", "--request-id", "req-list"}, func(string) string { return "" }, strings.NewReader(""), &out, &errb)
	}()
	time.Sleep(300 * time.Millisecond)
	if out.String() != "" {
		t.Fatalf("printed before the list request was written: %s", out.String())
	}
	// The rest of the log arrives.
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b[split+10:]); err != nil {
		t.Fatal(err)
	}
	f.Close()
	waitFor(t, &out, `"request_id":"req-list"`, 2)
	// Truncated and written again (logrotate copytruncate): read again.
	if err := os.WriteFile(p, b[:split+len(b[split:])/2], 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, &out, `"request_id":"req-list"`, 4)
	// Replaced (rename and re-create): the new file is followed.
	if err := os.Rename(p, p+".1"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, &out, `"request_id":"req-list"`, 6)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("follow ended with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("follow did not stop on cancel")
	}
	for _, e := range decodeEntries(t, out.String()) {
		if e.Action != auditlog.ActionList || e.User != "alice-audit" {
			t.Fatalf("followed entry %+v", e)
		}
	}
	if errb.String() != "" {
		t.Fatalf("stderr %q", errb.String())
	}
}
