package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/acme/secretsbroker/internal/testenv"
)

func TestWriteSourcesBackExactly(t *testing.T) {
	f := sharedFixture(t)
	id := uniqueID(t)
	token, accessor := f.mint(t, id, trickyEnv, "5m")
	out := filepath.Join(t.TempDir(), "secrets.env")
	vars := f.initEnv(id, token)
	vars["BROKER_BOOTSTRAP_ACCESSOR"] = accessor

	r := runInit(t, vars, trickyEnv, "write", "--out", out)
	if r.code != 0 {
		t.Fatalf("exit %d, want 0: %s", r.code, r.stderr)
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o400 {
		t.Errorf("mode %v, want 0400", st.Mode().Perm())
	}
	if got := sourceFile(t, out); !maps.Equal(got, trickyEnv) {
		t.Errorf("sourced env differs:\n got %q\nwant %q", got, trickyEnv)
	}
	entries, _ := os.ReadDir(filepath.Dir(out))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the env file (temp file left?)", len(entries))
	}
	line := logLine(t, r.stderr)
	if line["sandbox_id"] != id || line["accessor"] != accessor || line["exit"] != 0.0 {
		t.Errorf("success log line lacks sandbox id, accessor or exit: %v", line)
	}
	if f.tokenAlive(t, token) {
		t.Error("token still alive after a successful unwrap")
	}

	// The same token again: a replay.
	r = runInit(t, vars, trickyEnv, "write", "--out", filepath.Join(t.TempDir(), "again.env"))
	if r.code != exitTokenDead {
		t.Fatalf("replay: exit %d, want 4: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "intercepted") || logLine(t, r.stderr)["alert"] != true {
		t.Errorf("replay message is not loud about interception: %s", r.stderr)
	}
}

func TestWriteEmptySelection(t *testing.T) {
	f := sharedFixture(t)
	id := uniqueID(t)
	token, _ := f.mint(t, id, map[string]string{}, "5m")
	out := filepath.Join(t.TempDir(), "empty.env")
	if r := runInit(t, f.initEnv(id, token), nil, "write", "--out", out); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if b, err := os.ReadFile(out); err != nil || len(b) != 0 {
		t.Fatalf("empty selection gave %q, %v", b, err)
	}
}

func TestExecInProcessAddsVarsAndDropsToken(t *testing.T) {
	f := sharedFixture(t)
	id := uniqueID(t)
	token, _ := f.mint(t, id, trickyEnv, "5m")
	// The token also sits in the process environment: the child must not see it.
	t.Setenv("BROKER_BOOTSTRAP_TOKEN", token)
	t.Setenv("OPENAI_API_KEY", "stale-value-from-the-parent")
	dump := filepath.Join(t.TempDir(), "child.env")
	r := runInit(t, f.initEnv(id, token), trickyEnv, "exec", "--", "sh", "-c", `env -0 > "$1"`, "sh", dump)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	b, err := os.ReadFile(dump)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, kv := range strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00") {
		k, v, _ := strings.Cut(kv, "=")
		got[k] = v
	}
	for k, want := range trickyEnv {
		if got[k] != want {
			t.Errorf("child %s = %q, want %q", k, got[k], want)
		}
	}
	if _, ok := got["BROKER_BOOTSTRAP_TOKEN"]; ok {
		t.Error("child environment holds BROKER_BOOTSTRAP_TOKEN")
	}
	if got["PATH"] == "" {
		t.Error("child lost the parent's environment (PATH)")
	}
}

// binaryEnv is the environment for the real binary: a clean one plus vars.
func binaryEnv(vars map[string]string) []string {
	e := []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range vars {
		e = append(e, k+"="+v)
	}
	return e
}

func TestExecBinaryExitCode(t *testing.T) {
	f := sharedFixture(t)
	bin := binary(t)
	for _, c := range []struct {
		script string
		want   int
	}{
		{"exit 7", 7},
		{"exit 0", 0},
		{"kill -KILL $$", 128 + 9},
	} {
		id := uniqueID(t)
		token, _ := f.mint(t, id, trickyEnv, "5m")
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(bin, "exec", "--", "sh", "-c", c.script)
		cmd.Env = binaryEnv(f.initEnv(id, token))
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		_ = cmd.Run()
		if got := cmd.ProcessState.ExitCode(); got != c.want {
			t.Errorf("exec -- sh -c %q: exit %d, want %d: %s", c.script, got, c.want, stderr.String())
		}
		assertNoLeak(t, result{stdout: stdout.String(), stderr: stderr.String()}, token, trickyEnv)
	}
}

func TestExecBinaryForwardsSignals(t *testing.T) {
	f := sharedFixture(t)
	bin := binary(t)
	for sig, want := range map[syscall.Signal]int{syscall.SIGTERM: 42, syscall.SIGHUP: 43} {
		id := uniqueID(t)
		token, _ := f.mint(t, id, trickyEnv, "5m")
		var stderr bytes.Buffer
		cmd := exec.Command(bin, "exec", "--", "sh", "-c",
			`trap 'exit 42' TERM; trap 'exit 43' HUP; echo ready; i=0; while [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; exit 99`)
		cmd.Env = binaryEnv(f.initEnv(id, token))
		cmd.Stderr = &stderr
		// Own process group, so that a failed run leaves no workload behind.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.WaitDelay = 2 * time.Second
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pgid := cmd.Process.Pid
		t.Cleanup(func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) })
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil || line != "ready\n" {
			_ = cmd.Process.Kill()
			t.Fatalf("workload did not start: %q %v: %s", line, err, stderr.String())
		}
		start := time.Now()
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("%v to sandbox-init: no exit within 10 s", sig)
		}
		if got := cmd.ProcessState.ExitCode(); got != want {
			t.Errorf("%v: exit %d, want %d (the child's trap): %s", sig, got, want, stderr.String())
		}
		t.Logf("%v forwarded, exit %d after %s", sig, cmd.ProcessState.ExitCode(), time.Since(start).Round(time.Millisecond))
		assertNoLeak(t, result{stderr: stderr.String()}, token, trickyEnv)
	}
}

func TestForgedTokenIsRefusedNotUnwrapped(t *testing.T) {
	f := sharedFixture(t)
	id := uniqueID(t)
	evil := map[string]string{}
	for k := range trickyEnv {
		evil[k] = "attacker-chosen-" + k
	}
	evil["OPENAI_BASE_URL"] = "https://attacker.example/v1"
	token := f.forge(t, evil)
	out := filepath.Join(t.TempDir(), "secrets.env")
	r := runInit(t, f.initEnv(id, token), evil, "write", "--out", out)
	if r.code != exitForged {
		t.Fatalf("exit %d, want 5: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "forged") || !strings.Contains(r.stderr, "sys/wrapping/wrap") {
		t.Errorf("message does not say forged / show the creation path: %s", r.stderr)
	}
	if !f.tokenAlive(t, token) {
		t.Error("forged token was unwrapped (it must not be)")
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("env file exists after a forged token: %v", err)
	}
}

func TestTokenForAnotherSandboxIsRefused(t *testing.T) {
	f := sharedFixture(t)
	id := uniqueID(t)
	token, _ := f.mint(t, id, trickyEnv, "5m")
	r := runInit(t, f.initEnv(id+"-other", token), trickyEnv, "write", "--out", filepath.Join(t.TempDir(), "e"))
	if r.code != exitForged {
		t.Fatalf("exit %d, want 5: %s", r.code, r.stderr)
	}
	if !f.tokenAlive(t, token) {
		t.Error("token was unwrapped by the wrong sandbox")
	}
}

func TestExpiredToken(t *testing.T) {
	f := sharedFixture(t)
	id := uniqueID(t)
	token, _ := f.mint(t, id, trickyEnv, "1s")
	time.Sleep(2500 * time.Millisecond)
	r := runInit(t, f.initEnv(id, token), trickyEnv, "write", "--out", filepath.Join(t.TempDir(), "e"))
	if r.code != exitTokenDead {
		t.Fatalf("exit %d, want 4: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "expired, unknown or already used") {
		t.Errorf("message: %s", r.stderr)
	}
}

func TestUnknownToken(t *testing.T) {
	f := sharedFixture(t)
	id := uniqueID(t)
	r := runInit(t, f.initEnv(id, "hvs.CAESIJunknownTokenThatVaultNeverIssued"), nil, "write", "--out", filepath.Join(t.TempDir(), "e"))
	if r.code != exitTokenDead {
		t.Fatalf("exit %d, want 4: %s", r.code, r.stderr)
	}
}

func TestConcurrentUseOneWinsOtherReportsReplay(t *testing.T) {
	f := sharedFixture(t)
	id := uniqueID(t)
	token, _ := f.mint(t, id, trickyEnv, "5m")
	dir := t.TempDir()
	codes := make([]int, 4)
	var wg sync.WaitGroup
	for i := range codes {
		wg.Go(func() {
			var stdout, stderr bytes.Buffer
			vars := f.initEnv(id, token)
			err := run(t.Context(), []string{"write", "--out", filepath.Join(dir, "e"+string(rune('a'+i)))},
				func(k string) string { return vars[k] }, &stdout, &stderr)
			codes[i] = exitCode(err)
			assertNoLeak(t, result{stdout: stdout.String(), stderr: stderr.String()}, token, trickyEnv)
		})
	}
	wg.Wait()
	wins, dead := 0, 0
	for _, c := range codes {
		switch c {
		case 0:
			wins++
		case exitTokenDead:
			dead++
		}
	}
	if wins != 1 || dead != len(codes)-1 {
		t.Fatalf("exit codes %v: want exactly one 0 and the rest 4", codes)
	}
}

func TestTokenFileTruncatedAfterUse(t *testing.T) {
	f := sharedFixture(t)
	id := uniqueID(t)
	token, _ := f.mint(t, id, trickyEnv, "5m")
	tokFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"VAULT_ADDR": f.v.Addr, "BROKER_SANDBOX_ID": id, "BROKER_BOOTSTRAP_TOKEN_FILE": tokFile}
	out := filepath.Join(t.TempDir(), "e")
	r := runInit(t, vars, trickyEnv, "write", "--out", out)
	assertNoLeak(t, r, token, nil)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if st, err := os.Stat(tokFile); err != nil || st.Size() != 0 {
		t.Fatalf("token file not truncated: %v size %d", err, st.Size())
	}
	if got := sourceFile(t, out); !maps.Equal(got, trickyEnv) {
		t.Errorf("sourced env differs: %q", got)
	}
	// A second run finds the file empty: a configuration error, said plainly.
	r = runInit(t, vars, nil, "write", "--out", out)
	if r.code != exitUsage || !strings.Contains(r.stderr, "empties it after use") {
		t.Fatalf("second run: exit %d: %s", r.code, r.stderr)
	}
}

func TestForgedTokenFileIsKept(t *testing.T) {
	f := sharedFixture(t)
	token := f.forge(t, map[string]string{"OPENAI_API_KEY": "attacker-value-123"})
	tokFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokFile, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"VAULT_ADDR": f.v.Addr, "BROKER_SANDBOX_ID": uniqueID(t), "BROKER_BOOTSTRAP_TOKEN_FILE": tokFile}
	r := runInit(t, vars, nil, "write", "--out", filepath.Join(t.TempDir(), "e"))
	assertNoLeak(t, r, token, nil)
	if r.code != exitForged {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if b, _ := os.ReadFile(tokFile); string(b) != token {
		t.Error("forged token file was modified; it is evidence")
	}
}

func TestLocalProblemsDoNotSpendTheToken(t *testing.T) {
	f := sharedFixture(t)
	id := uniqueID(t)
	token, _ := f.mint(t, id, trickyEnv, "5m")
	vars := f.initEnv(id, token)
	cases := [][]string{
		{"write", "--out", filepath.Join(t.TempDir(), "no", "such", "dir", "e")},
		{"exec", "--", "no-such-command-sandbox-init-test"},
	}
	for _, args := range cases {
		if r := runInit(t, vars, trickyEnv, args...); r.code != exitUsage {
			t.Errorf("%q: exit %d, want 2: %s", args, r.code, r.stderr)
		}
	}
	if !f.tokenAlive(t, token) {
		t.Fatal("a local configuration error spent the token")
	}
}

func TestBundleWithInvalidNameIsRefused(t *testing.T) {
	f := sharedFixture(t)
	id := uniqueID(t)
	token, _ := f.mint(t, id, map[string]string{"GOOD_NAME": "good-secret-value", "BAD-NAME": "bad-secret-value"}, "5m")
	out := filepath.Join(t.TempDir(), "e")
	r := runInit(t, f.initEnv(id, token), map[string]string{"a": "good-secret-value", "b": "bad-secret-value"}, "write", "--out", out)
	if r.code != exitFailure || !strings.Contains(r.stderr, "BAD-NAME") {
		t.Fatalf("exit %d, want 1 naming BAD-NAME: %s", r.code, r.stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Error("env file written from a refused bundle")
	}
}

func TestVaultStoppedExits3WithinDeadline(t *testing.T) {
	v := testenv.StartVault(t)
	f := newFixture(t, v)
	id := uniqueID(t)
	token, _ := f.mint(t, id, trickyEnv, "5m")
	tokFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokFile, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	v.Stop(t)
	vars := map[string]string{"VAULT_ADDR": v.Addr, "BROKER_SANDBOX_ID": id,
		"BROKER_BOOTSTRAP_TOKEN_FILE": tokFile, "BROKER_INIT_DEADLINE": "3s"}
	r := runInit(t, vars, trickyEnv, "write", "--out", filepath.Join(t.TempDir(), "e"))
	assertNoLeak(t, r, token, nil)
	if r.code != exitUnreachable {
		t.Fatalf("exit %d, want 3: %s", r.code, r.stderr)
	}
	const margin = 1500 * time.Millisecond
	if r.elapsed > 3*time.Second+margin || r.elapsed < 2*time.Second {
		t.Errorf("gave up after %s; want about the 3 s deadline (retrying until then)", r.elapsed)
	}
	if attempts := logLine(t, r.stderr)["vault_calls"].(float64); attempts < 2 {
		t.Errorf("%v attempts: no retry", attempts)
	}
	if b, _ := os.ReadFile(tokFile); string(b) != token {
		t.Error("token file truncated although the token was never used")
	}
	t.Logf("exit 3 after %s", r.elapsed.Round(time.Millisecond))
}

func TestVaultCLIUnwrapsABrokerToken(t *testing.T) {
	f := sharedFixture(t)
	id := uniqueID(t)
	token, _ := f.mint(t, id, trickyEnv, "5m")
	script, err := filepath.Abs("../../scripts/get-vault.sh")
	if err != nil {
		t.Fatal(err)
	}
	// The same binary testenv runs: $VAULT_BIN, vault on PATH, or scripts/get-vault.sh.
	vaultBin := os.Getenv("VAULT_BIN")
	if vaultBin == "" {
		vaultBin, _ = exec.LookPath("vault")
	}
	if vaultBin == "" {
		out, err := exec.Command("bash", script).Output()
		if err != nil {
			t.Fatalf("scripts/get-vault.sh: %v", err)
		}
		vaultBin = strings.TrimSpace(string(out))
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(vaultBin, "unwrap", "-format=json", token)
	// No VAULT_TOKEN and an empty HOME (no ~/.vault-token): the CLI holds only the wrapping token.
	cmd.Env = []string{"VAULT_ADDR=" + f.v.Addr, "HOME=" + t.TempDir(), "PATH=/usr/bin:/bin"}
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("vault unwrap: %v: %s", err, stderr.String())
	}
	var resp struct {
		Data struct {
			Data map[string]string `json:"data"`
		} `json:"data"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &resp); err != nil {
		t.Fatalf("vault unwrap output: %v", err)
	}
	if !maps.Equal(resp.Data.Data, trickyEnv) {
		t.Errorf("vault unwrap gave %q, want %q", resp.Data.Data, trickyEnv)
	}
}
