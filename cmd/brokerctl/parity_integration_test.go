package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/client"
	"github.com/acme/secretsbroker/internal/testenv"
	"github.com/acme/secretsbroker/vaultx"
)

// realBrokerd runs `brokerd setup` and `brokerd serve` (the binary
// testenv.Command builds) on a fresh dev Vault, without Redis (one replica),
// and returns its URL, the Vault and an API key for a fresh user.
func realBrokerd(t *testing.T) (string, *testenv.Vault, string) {
	t.Helper()
	v := testenv.StartVault(t)
	bin := testenv.Command(t, "brokerd")
	dir := t.TempDir()
	roleID, secretID := filepath.Join(dir, "role_id"), filepath.Join(dir, "secret_id")
	base := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "VAULT_ADDR=" + v.Addr}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	setup := exec.CommandContext(ctx, bin, "setup", "--role-id-file", roleID, "--secret-id-file", secretID)
	setup.Env = append(base, "VAULT_TOKEN="+v.Token)
	if out, err := setup.CombinedOutput(); err != nil {
		t.Fatalf("brokerd setup: %v\n%s", err, out)
	}
	addr, admin := testenv.FreeAddr(t), testenv.FreeAddr(t)
	logs := &testenv.SyncBuffer{}
	serve := exec.Command(bin, "serve")
	serve.Env = append(base, "BROKER_VAULT_ROLE_ID_FILE="+roleID, "BROKER_VAULT_SECRET_ID_FILE="+secretID,
		"BROKER_LISTEN_ADDR="+addr, "BROKER_ADMIN_ADDR="+admin)
	serve.Stdout, serve.Stderr = logs, logs
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- serve.Wait() }()
	t.Cleanup(func() {
		_ = serve.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = serve.Process.Kill()
			<-exited
		}
	})
	url := "http://" + addr
	probe, err := client.New(url, "", client.WithTimeout(time.Second), client.WithRetry(client.Retry{}))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for probe.Healthz(context.Background()) != nil {
		select {
		case err := <-exited:
			t.Fatalf("brokerd serve exited early: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("brokerd did not answer /healthz within 30s\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	vc, err := vaultx.New(ctx, vaultx.Config{Addr: v.Addr, Token: v.Token}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Close()
	key, _, err := broker.CreateAPIKey(ctx, vc, "parity-"+strconv.FormatInt(time.Now().UnixNano(), 36), "cli-test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return url, v, key
}

// cliOK runs brokerctl and fails the test on a non-zero exit.
func cliOK(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	r := runCLI(t, env, stdin, args...)
	if r.code != 0 {
		t.Fatalf("brokerctl %s: exit %d\nstdout %s\nstderr %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

func listed(t *testing.T, env map[string]string) []broker.Secret {
	t.Helper()
	var l client.SecretList
	if err := json.Unmarshal([]byte(cliOK(t, env, "", "--json", "secrets", "list").stdout), &l); err != nil {
		t.Fatal(err)
	}
	return l.Secrets
}

// TestCLIParityAgainstBrokerd drives brokerctl against a real brokerd on a
// real Vault: `secrets set` creates, then stores a new version (any letter
// case of the name); --create-only refuses; `secrets list` shows presets and
// their configured mark; `secrets delete` (and its alias rm) remove;
// `runtimes create --secret 'OPENAI_*'` provisions, its token (written to
// --token-file, 0600, never printed) unwraps with the real sandbox-init;
// runtimes list/get/restart/delete and evaluations create/get work.
func TestCLIParityAgainstBrokerd(t *testing.T) {
	url, v, key := realBrokerd(t)
	env := map[string]string{"BROKER_URL": url, "BROKER_API_KEY": key}
	const v1, v2, v3 = "sk-parity-first-0123456789", "sk-parity-second-0123456789", "sk-parity-third-0123456789"

	cliOK(t, env, v1, "secrets", "set", "PARITY_X")
	r := cliOK(t, env, v2, "secrets", "set", "PARITY_X")
	if !strings.Contains(r.stderr, "stored version 2") {
		t.Fatalf("second set: stderr %q", r.stderr)
	}
	if l := listed(t, env); len(l) != 1 || l[0].Name != "PARITY_X" || l[0].Version != 2 {
		t.Fatalf("after two sets: %+v", l)
	}
	vs := cliOK(t, env, "", "--json", "secrets", "versions", "PARITY_X")
	var vl client.VersionList
	if err := json.Unmarshal([]byte(vs.stdout), &vl); err != nil || len(vl.Versions) != 2 {
		t.Fatalf("versions: %v %s", err, vs.stdout)
	}
	// Another letter case is the same name: a third version.
	cliOK(t, env, v3, "secrets", "set", "parity_x")
	if l := listed(t, env); len(l) != 1 || l[0].Version != 3 {
		t.Fatalf("after set in lower case: %+v", l)
	}
	r = runCLI(t, env, v3, "secrets", "set", "PARITY_X", "--create-only")
	if r.code != 1 || !strings.Contains(r.stderr, "409") {
		t.Fatalf("--create-only on an existing name: exit %d, %q", r.code, r.stderr)
	}

	// secrets list: the secrets, then the presets with configured marks.
	preset := func(out, provider string) string {
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) == 3 && f[0] == provider {
				return f[2]
			}
		}
		t.Fatalf("no preset %s in:\n%s", provider, out)
		return ""
	}
	if got := preset(cliOK(t, env, "", "secrets", "list").stdout, "openai"); got != "no" {
		t.Fatalf("openai configured = %s before its secret exists", got)
	}
	cliOK(t, env, "sk-openai-parity-0123456789", "secrets", "set", "--provider", "openai")
	cliOK(t, env, "org-parity-0123456789", "secrets", "set", "openai_org_id")
	cliOK(t, env, "ghp_parity_0123456789abcdef", "secrets", "set", "GITHUB_TOKEN")
	out := cliOK(t, env, "", "secrets", "list").stdout
	if got := preset(out, "openai"); got != "yes" {
		t.Fatalf("openai configured = %s after secrets set --provider openai:\n%s", got, out)
	}

	// runtimes create --secret 'OPENAI_*': both OPENAI_ names, case-insensitive.
	tokFile := filepath.Join(t.TempDir(), "token")
	r = cliOK(t, env, "", "--json", "runtimes", "create", "--project", "p1", "--secret", "OPENAI_*", "--token-file", tokFile)
	var rt broker.Runtime
	if err := json.Unmarshal([]byte(r.stdout), &rt); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rt.Sandbox.EnvNames, ","); got != "OPENAI_API_KEY,openai_org_id" && got != "openai_org_id,OPENAI_API_KEY" {
		t.Fatalf("env names %v", rt.Sandbox.EnvNames)
	}
	tokb, err := os.ReadFile(tokFile)
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(string(tokb))
	if st, _ := os.Stat(tokFile); tok == "" || st.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %q, mode %v", tok, st.Mode())
	}
	if strings.Contains(r.stdout, tok) || strings.Contains(r.stderr, tok) || rt.Sandbox.Bootstrap == nil || rt.Sandbox.Bootstrap.Token != "" {
		t.Fatal("the bootstrap token was printed without --show-token")
	}
	envFile := filepath.Join(t.TempDir(), "env")
	if code, log := sandboxInitWrite(t, v.Addr, rt.Sandbox.ID, tok, envFile); code != 0 {
		t.Fatalf("sandbox-init: exit %d\n%s", code, log)
	}
	got, err := os.ReadFile(envFile)
	if err != nil || !strings.Contains(string(got), "sk-openai-parity-0123456789") || !strings.Contains(string(got), "org-parity-0123456789") ||
		strings.Contains(string(got), "ghp_parity") {
		t.Fatalf("sandbox env file: %v\n(%d bytes)", err, len(got))
	}

	// A missing exact name is an error naming it; nothing is provisioned.
	r = runCLI(t, env, "", "runtimes", "create", "--project", "p1", "--secret", "OPENAI_API_KEY", "--secret", "NOPE_MISSING")
	if r.code != 1 || !strings.Contains(r.stderr, "NOPE_MISSING") {
		t.Fatalf("missing name: exit %d, %q", r.code, r.stderr)
	}
	lr := cliOK(t, env, "", "runtimes", "list")
	if strings.Count(lr.stdout, "\n") != 2 || !strings.Contains(lr.stdout, rt.ID) || strings.Contains(lr.stdout, tok) {
		t.Fatalf("runtimes list:\n%s", lr.stdout)
	}
	cliOK(t, env, "", "runtimes", "get", rt.ID)
	rs := cliOK(t, env, "", "runtimes", "restart", rt.ID, "--secret", "github_token", "--show-token")
	if !strings.Contains(rs.stdout, "GITHUB_TOKEN") || !strings.Contains(rs.stdout, " token ") {
		t.Fatalf("restart --show-token:\n%s", rs.stdout)
	}
	cliOK(t, env, "", "runtimes", "delete", rt.ID)
	if r := runCLI(t, env, "", "runtimes", "get", rt.ID); r.code != 1 {
		t.Fatalf("get after delete: exit %d", r.code)
	}

	// evaluations create|get.
	ids := listed(t, env)
	er := cliOK(t, env, "", "--json", "evaluations", "create", "--project", "p2", "--item", "a", "--item", "b", "--secret-id", ids[0].ID)
	var ev broker.Evaluation
	if err := json.Unmarshal([]byte(er.stdout), &ev); err != nil || len(ev.Items) != 2 {
		t.Fatalf("evaluation: %v %s", err, er.stdout)
	}
	for _, it := range ev.Items {
		if it.RuntimeSandbox.Bootstrap != nil && it.RuntimeSandbox.Bootstrap.Token != "" {
			t.Fatal("an evaluation token was printed without --show-token")
		}
	}
	if g := cliOK(t, env, "", "evaluations", "get", ev.ID); !strings.Contains(g.stdout, ev.Items[0].TaskSandbox.ID) {
		t.Fatalf("evaluations get:\n%s", g.stdout)
	}

	// delete, and its alias rm.
	cliOK(t, env, "", "secrets", "delete", "PARITY_X")
	cliOK(t, env, "", "secrets", "rm", "GITHUB_TOKEN")
	for _, s := range listed(t, env) {
		if s.Name == "PARITY_X" || s.Name == "GITHUB_TOKEN" {
			t.Fatalf("%s still listed after delete", s.Name)
		}
	}
}

// sandboxInitWrite runs the real sandbox-init in write mode and returns its
// exit code and stderr.
func sandboxInitWrite(t *testing.T, vaultAddr, sandboxID, token, out string) (int, string) {
	t.Helper()
	bin := testenv.Command(t, "sandbox-init")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "write", "--out", out)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "VAULT_ADDR=" + vaultAddr, "BROKER_SANDBOX_ID=" + sandboxID,
		"BROKER_BOOTSTRAP_TOKEN=" + token, "BROKER_INIT_DEADLINE=5s"}
	b, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(b)
	}
	if err != nil {
		t.Fatalf("sandbox-init: %v", err)
	}
	return 0, string(b)
}
