package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/acme/secretsbroker/internal/testenv"
)

var env testenv.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	env.Close()
	os.Exit(code)
}

// trickyEnv holds values a naive quoting would break. Every value is long and
// distinctive so that finding one in an output is never a coincidence.
var trickyEnv = map[string]string{
	"OPENAI_API_KEY": `sk-proj-it's "double" $HOME ${PATH} $(id) ` + "`uname`" + ` \back\\slash\`,
	"PRIVATE_PEM":    "-----BEGIN KEY-----\nline two with 'q' and $1\n\n-----END KEY-----\n",
	"UNICODE_SECRET": "ünïcødé-✓-日本語-'\\''-\\n-literal",
	"TRAILING_NL":    "ends-with-newlines-secret\n\n",
}

// binary builds the real sandbox-init once per test run.
func binary(t *testing.T) string {
	t.Helper()
	return testenv.Command(t, "sandbox-init")
}

// vaultFixture is a Vault with the broker's KV v2 mount, acting as the broker.
type vaultFixture struct {
	v    *testenv.Vault
	root *api.Client
}

var mountOnce sync.Map // Vault address -> struct{}: kv-v2 "broker" enabled

func newFixture(t *testing.T, v *testenv.Vault) *vaultFixture {
	t.Helper()
	c, err := api.NewClient(&api.Config{Address: v.Addr, HttpClient: &http.Client{Timeout: 10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(v.Token)
	if _, done := mountOnce.Load(v.Addr); !done {
		ctx := t.Context()
		mounts, err := c.Sys().ListMountsWithContext(ctx)
		if err != nil {
			t.Fatalf("list mounts: %v", err)
		}
		if _, ok := mounts["broker/"]; !ok {
			err := c.Sys().MountWithContext(ctx, "broker", &api.MountInput{Type: "kv", Options: map[string]string{"version": "2"}})
			if err != nil {
				t.Fatalf("enable kv-v2 at broker: %v", err)
			}
		}
		mountOnce.Store(v.Addr, struct{}{})
	}
	return &vaultFixture{v: v, root: c}
}

func sharedFixture(t *testing.T) *vaultFixture {
	t.Helper()
	return newFixture(t, env.Vault(t))
}

// wrapping returns a root client that wraps every response with ttl.
func (f *vaultFixture) wrapping(t *testing.T, ttl string) *api.Client {
	t.Helper()
	wc, err := f.root.Clone()
	if err != nil {
		t.Fatal(err)
	}
	wc.SetToken(f.v.Token)
	wc.SetWrappingLookupFunc(func(string, string) string { return ttl })
	return wc
}

// mint does what the broker does (docs/design.md section 5): write the bundle to
// sandboxes/<id>, read it back wrapped, destroy the bundle. It returns the
// wrapping token and its accessor.
func (f *vaultFixture) mint(t *testing.T, id string, vars map[string]string, ttl string) (token, accessor string) {
	t.Helper()
	ctx := t.Context()
	data := make(map[string]any, len(vars))
	for k, v := range vars {
		data[k] = v
	}
	kv := f.root.KVv2("broker")
	// A fresh kv-v2 mount may need a moment before it accepts writes.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := kv.Put(ctx, "sandboxes/"+id, data)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("write bundle: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	sec, err := f.wrapping(t, ttl).Logical().ReadWithContext(ctx, "broker/data/sandboxes/"+id)
	if err != nil || sec == nil || sec.WrapInfo == nil {
		t.Fatalf("wrapped read: %v (%v)", err, sec)
	}
	if want := "broker/data/sandboxes/" + id; sec.WrapInfo.CreationPath != want {
		t.Fatalf("creation path %q, want %q", sec.WrapInfo.CreationPath, want)
	}
	if err := kv.DeleteMetadata(ctx, "sandboxes/"+id); err != nil {
		t.Fatalf("destroy bundle: %v", err)
	}
	return sec.WrapInfo.Token, sec.WrapInfo.Accessor
}

// forge mints a look-alike with sys/wrapping/wrap: the shape of a KV v2 read,
// attacker-chosen values.
func (f *vaultFixture) forge(t *testing.T, vars map[string]string) string {
	t.Helper()
	data := make(map[string]any, len(vars))
	for k, v := range vars {
		data[k] = v
	}
	sec, err := f.wrapping(t, "5m").Logical().WriteWithContext(t.Context(), "sys/wrapping/wrap",
		map[string]any{"data": data, "metadata": map[string]any{"version": 1}})
	if err != nil || sec == nil || sec.WrapInfo == nil {
		t.Fatalf("sys/wrapping/wrap: %v", err)
	}
	return sec.WrapInfo.Token
}

// tokenAlive reports whether Vault still knows the wrapping token (a lookup
// does not consume it).
func (f *vaultFixture) tokenAlive(t *testing.T, token string) bool {
	t.Helper()
	sec, err := f.root.Logical().WriteWithContext(t.Context(), "sys/wrapping/lookup", map[string]any{"token": token})
	return err == nil && sec != nil
}

// initEnv is the environment sandbox-init gets for sandbox id.
func (f *vaultFixture) initEnv(id, token string) map[string]string {
	return map[string]string{
		"VAULT_ADDR":             f.v.Addr,
		"BROKER_SANDBOX_ID":      id,
		"BROKER_BOOTSTRAP_TOKEN": token,
	}
}

type result struct {
	code           int
	stdout, stderr string
	elapsed        time.Duration
}

// runInit runs sandbox-init in-process with getenv reading vars, and checks
// that its output holds neither the token nor any of secrets.
func runInit(t *testing.T, vars map[string]string, secrets map[string]string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	start := time.Now()
	err := run(context.Background(), args, func(k string) string { return vars[k] }, &stdout, &stderr)
	r := result{code: exitCode(err), stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(start)}
	assertNoLeak(t, r, vars["BROKER_BOOTSTRAP_TOKEN"], secrets)
	return r
}

// assertNoLeak fails if an output contains the token or a value, raw or
// JSON-escaped.
func assertNoLeak(t *testing.T, r result, token string, secrets map[string]string) {
	t.Helper()
	needles := map[string]string{"token": token}
	for k, v := range secrets {
		needles[k] = v
	}
	for what, s := range needles {
		if len(s) < 8 {
			continue // too short to be told apart from ordinary output
		}
		j, _ := json.Marshal(s)
		for _, form := range []string{s, strings.Trim(string(j), `"`)} {
			if strings.Contains(r.stdout, form) || strings.Contains(r.stderr, form) {
				t.Errorf("output leaks %s:\nstdout: %s\nstderr: %s", what, r.stdout, r.stderr)
			}
		}
	}
}

// logLine decodes the last JSON line of stderr.
func logLine(t *testing.T, stderr string) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		t.Fatalf("last stderr line is not JSON: %q", lines[len(lines)-1])
	}
	return m
}

// sourceFile sources path with /bin/sh (`set -a; . path`) and returns the
// exported environment.
func sourceFile(t *testing.T, path string) map[string]string {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command("/bin/sh", "-c", `set -a; . "$1" || exit 99; exec env -0`, "sh", path)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("/bin/sh sourcing %s: %v: %s", path, err, errb.String())
	}
	got := map[string]string{}
	for _, kv := range strings.Split(strings.TrimSuffix(out.String(), "\x00"), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			got[k] = v
		}
	}
	delete(got, "PATH")
	delete(got, "PWD")
	delete(got, "SHLVL")
	delete(got, "_")
	delete(got, "OLDPWD")
	return got
}

func uniqueID(t *testing.T) string {
	t.Helper()
	return "sb-" + strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()) + "-" + time.Now().Format("150405.000000")
}
