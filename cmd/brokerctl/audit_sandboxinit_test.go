package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acme/secretsbroker/auditlog"
	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/internal/testenv"
)

// runSandboxInit runs the real sandbox-init (write mode) for sandboxID with
// token, appends its stderr to logw and returns its exit code.
func runSandboxInit(t *testing.T, vaultAddr, sandboxID, token, accessor string, logw *bytes.Buffer) int {
	t.Helper()
	bin := testenv.Command(t, "sandbox-init")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "write", "--out", filepath.Join(t.TempDir(), "env"))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "VAULT_ADDR=" + vaultAddr, "BROKER_SANDBOX_ID=" + sandboxID,
		"BROKER_BOOTSTRAP_TOKEN=" + token, "BROKER_BOOTSTRAP_ACCESSOR=" + accessor, "BROKER_INIT_DEADLINE=5s"}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	err := cmd.Run()
	logw.Write(errb.Bytes())
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	t.Fatalf("sandbox-init: %v", err)
	return -1
}

// The real sandbox-init against the broker's tokens: a normal start, a
// second start with the spent token (exit 4, refused at lookup), and a
// look-alike token minted with sys/wrapping/wrap (exit 5). Vault's audit log
// and sandbox-init's own log together give the replay, the refusal and the
// creation-path failure as alerts.
func TestAuditSandboxInitAgainstVault(t *testing.T) {
	ab := startAuditedBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const user = "bob-audit"
	as := func(id string) context.Context {
		return broker.WithAudit(ctx, broker.Audit{UserID: user, RequestID: id})
	}
	sec, err := ab.svc.CreateSecret(as("req-b-create"), user, broker.CreateSecretInput{Name: "ANTHROPIC_API_KEY", Value: "sk-ant-audit-0123456789abcdef"})
	if err != nil {
		t.Fatal(err)
	}
	rtA, err := ab.svc.CreateRuntime(as("req-b-prov-a"), user, broker.RuntimeInput{ProjectID: "p", SecretIDs: []string{sec.ID}})
	if err != nil {
		t.Fatal(err)
	}
	rtB, err := ab.svc.CreateRuntime(as("req-b-prov-b"), user, broker.RuntimeInput{ProjectID: "p", SecretIDs: []string{sec.ID}})
	if err != nil {
		t.Fatal(err)
	}
	accA := auditAccessorOf(t, ab.mem, user, rtA.ID)
	tokA := rtA.Sandbox.Bootstrap.Token

	var slog bytes.Buffer
	if code := runSandboxInit(t, ab.vault.Addr, rtA.Sandbox.ID, tokA, accA, &slog); code != 0 {
		t.Fatalf("sandbox-init A: exit %d\n%s", code, slog.String())
	}
	if code := runSandboxInit(t, ab.vault.Addr, rtA.Sandbox.ID, tokA, accA, &slog); code != 4 {
		t.Fatalf("sandbox-init A again: exit %d, want 4\n%s", code, slog.String())
	}
	// A look-alike for sandbox B, minted by anyone with a Vault token.
	forger, err := ab.admin.Clone()
	if err != nil {
		t.Fatal(err)
	}
	forger.SetToken(ab.vault.Token)
	forger.SetWrappingLookupFunc(func(string, string) string { return "300s" })
	w, err := forger.Logical().WriteWithContext(ctx, "sys/wrapping/wrap", map[string]any{"OPENAI_BASE_URL": "https://evil.example"})
	if err != nil || w == nil || w.WrapInfo == nil {
		t.Fatalf("forge: %v", err)
	}
	if code := runSandboxInit(t, ab.vault.Addr, rtB.Sandbox.ID, w.WrapInfo.Token, "", &slog); code != 5 {
		t.Fatalf("sandbox-init B with a forged token: exit %d, want 5\n%s", code, slog.String())
	}
	for _, tok := range []string{tokA, w.WrapInfo.Token} {
		if strings.Contains(slog.String(), tok) {
			t.Fatal("sandbox-init's log holds a token")
		}
	}
	slogPath := filepath.Join(t.TempDir(), "sandbox-init.log")
	if err := os.WriteFile(slogPath, slog.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	auditWaitForLog(t, ab.logPath, "sys/wrapping/wrap")

	r := runCLI(t, nil, "", "--json", "audit", "alerts", ab.logPath, "--sandbox-log", slogPath)
	if r.code != exitAlerts {
		t.Fatalf("alerts: exit %d: %s", r.code, r.stderr)
	}
	var got []string
	for _, a := range decodeAlerts(t, r.stdout) {
		got = append(got, fmt.Sprintf("%s/%s/%s", a.Kind, a.Reason, a.SandboxID))
		if a.Kind == auditlog.AlertFailedUnwrap && (a.User != user || a.RequestID != "req-b-prov-a" || a.Path != "sys/wrapping/lookup") {
			t.Errorf("replay alert %+v", a)
		}
		if a.Kind == auditlog.AlertTokenRefused && a.Accessor != accA {
			t.Errorf("refusal alert without the accessor sandbox-init was given: %+v", a)
		}
	}
	want := []string{
		"failed_unwrap/replay/" + rtA.Sandbox.ID,
		"sandbox_token_refused//" + rtA.Sandbox.ID,
		"creation_path_mismatch//" + rtB.Sandbox.ID,
	}
	// (sandbox-init logs whole seconds: its alerts may sort first.)
	slices.Sort(got)
	slices.Sort(want)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("alerts:\n got %v\nwant %v", got, want)
	}

	// The sandbox's calls in the timeline, linked to A's provisioning; the
	// accessor sandbox-init logged finds them with --match.
	env := map[string]string{"VAULT_ADDR": ab.vault.Addr, "VAULT_TOKEN": ab.vault.Token}
	m := runCLI(t, env, "", "--json", "audit", ab.logPath, "--match", accA, "--user", user)
	var calls []string
	for _, e := range decodeEntries(t, m.stdout) {
		calls = append(calls, string(e.Call)+":"+e.Outcome)
		if e.SandboxID != rtA.Sandbox.ID || e.RequestID != "req-b-prov-a" {
			t.Errorf("matched entry %+v", e)
		}
	}
	if strings.Join(calls, " ") != "provision:ok lookup:ok unwrap:ok lookup:error" {
		t.Fatalf("--match %s: %v (%s)", accA, calls, m.stderr)
	}
	t.Logf("alerts %v; accessor's calls %v", got, calls)
}
