package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/acme/secretsbroker/internal/testenv"
)

type bootstrap struct {
	SandboxID    string    `json:"sandbox_id"`
	VaultAddr    string    `json:"vault_addr"`
	Token        string    `json:"token"`
	CreationPath string    `json:"creation_path"`
	ExpiresAt    time.Time `json:"expires_at"`
	EnvNames     []string  `json:"env_names"`
}

type sandboxJSON struct {
	ID        string     `json:"id"`
	EnvNames  []string   `json:"env_names"`
	Bootstrap *bootstrap `json:"bootstrap"`
}

type runtimeJSON struct {
	ID        string      `json:"id"`
	SecretIDs []string    `json:"secret_ids"`
	Sandbox   sandboxJSON `json:"sandbox"`
}

type initResult struct {
	code           int
	stdout, stderr string
	elapsed        time.Duration
}

// sandboxInit runs the real sandbox-init binary for a bootstrap.
func sandboxInit(t *testing.T, b *bootstrap, extraEnv []string, args ...string) initResult {
	t.Helper()
	bin := testenv.Command(t, "sandbox-init")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "VAULT_ADDR=" + b.VaultAddr,
		"BROKER_SANDBOX_ID=" + b.SandboxID, "BROKER_BOOTSTRAP_TOKEN=" + b.Token, "BROKER_INIT_DEADLINE=5s"}, extraEnv...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := initResult{stdout: out.String(), stderr: errb.String(), elapsed: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("sandbox-init: %v", err)
	}
	if strings.Contains(r.stdout+r.stderr, b.Token) {
		t.Fatalf("sandbox-init output contains the token")
	}
	return r
}

// sourceEnvFile sources path in a POSIX shell and returns the named
// variables' values byte for byte.
func sourceEnvFile(t *testing.T, path string, names []string) map[string]string {
	t.Helper()
	script := "set -a; . " + path + "; for n in " + strings.Join(names, " ") + "; do eval \"printf '%s\\0' \\\"\\$$n\\\"\"; done"
	out, err := exec.Command("/bin/sh", "-c", script).Output()
	if err != nil {
		t.Fatalf("sourcing env file: %v", err)
	}
	parts := strings.Split(string(out), "\x00")
	got := map[string]string{}
	for i, n := range names {
		got[n] = parts[i]
	}
	return got
}

// envFileNames lists the variable names an env file assigns.
func envFileNames(t *testing.T, path string) []string {
	t.Helper()
	out, err := exec.Command("/bin/sh", "-c", "env -i /bin/sh -c 'set -a; . "+path+"; env' | cut -d= -f1").Output()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		switch l {
		case "PWD", "SHLVL", "_", "OLDPWD", "":
		default:
			if strings.ToUpper(l) == l && !strings.ContainsAny(l, " \t") {
				names = append(names, l)
			}
		}
	}
	slices.Sort(names)
	return names
}

func sandboxesLeft(t *testing.T, v *testenv.Vault) int {
	t.Helper()
	root := rootClient(t, v)
	s, err := root.Logical().List("broker/metadata/sandboxes")
	if err != nil {
		t.Fatal(err)
	}
	if s == nil || s.Data["keys"] == nil {
		return 0
	}
	return len(s.Data["keys"].([]any))
}

func rootClient(t *testing.T, v *testenv.Vault) *api.Client {
	t.Helper()
	cfg := api.DefaultConfig()
	cfg.Address = v.Addr
	c, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(v.Token)
	return c
}

func createSecret(t *testing.T, c *client, name, value string) string {
	t.Helper()
	r := c.do("POST", "/api/v1/user/secrets", map[string]any{"name": name, "value": value})
	if r.Status != 201 {
		t.Fatalf("create %s: %d %s", name, r.Status, r.Body)
	}
	var s struct{ ID string }
	r.JSON(t, &s)
	return s.ID
}

func createRuntime(t *testing.T, c *client, ids []string) runtimeJSON {
	t.Helper()
	r := c.do("POST", "/api/v1/runtimes", map[string]any{"project_id": "proj-1", "name": "rt", "secret_ids": ids})
	if r.Status != 201 {
		t.Fatalf("create runtime: %d %s", r.Status, r.Body)
	}
	var rt runtimeJSON
	r.JSON(t, &rt)
	if rt.Sandbox.Bootstrap == nil || rt.Sandbox.Bootstrap.Token == "" {
		t.Fatalf("runtime answer has no bootstrap token: %s", r.Body)
	}
	return rt
}

// TestSandboxBootstrapEndToEnd provisions through the API and runs the real
// sandbox-init against the real Vault.
func TestSandboxBootstrapEndToEnd(t *testing.T) {
	v := shared.Vault(t)
	r := shared.Redis(t)
	cfg := setupVault(t, v)
	b := startBroker(t, cfg, map[string]string{"REDIS_URL": r.URL})
	c := newClient(t, b.URL, newAPIKey(t, v, "e2e-user-"+randHex(4)))

	values := map[string]string{
		"E2E_QUOTES":  `it's "quoted" 'twice'` + "\x60cmd\x60",
		"E2E_DOLLAR":  `$HOME ${PATH} $(id) \$ \\ \n`,
		"E2E_NEWLINE": "line one\nline two\n\ttabbed\n",
	}
	names := []string{"E2E_DOLLAR", "E2E_NEWLINE", "E2E_QUOTES"}
	var ids []string
	for _, n := range names {
		ids = append(ids, createSecret(t, c, n, values[n]))
	}

	rt := createRuntime(t, c, ids)
	bs := rt.Sandbox.Bootstrap
	if bs.CreationPath != "broker/data/sandboxes/"+bs.SandboxID || !slices.Equal(bs.EnvNames, names) {
		t.Fatalf("bootstrap %+v", bs)
	}
	out := filepath.Join(t.TempDir(), "env")
	res := sandboxInit(t, bs, nil, "write", "--out", out)
	if res.code != 0 {
		t.Fatalf("sandbox-init write exit %d: %s", res.code, res.stderr)
	}
	fi, err := os.Stat(out)
	if err != nil || fi.Mode().Perm() != 0o400 {
		t.Fatalf("env file mode: %v %v", fi, err)
	}
	if got := envFileNames(t, out); !slices.Equal(got, names) {
		t.Fatalf("env file assigns %v, want exactly %v", got, names)
	}
	if got := sourceEnvFile(t, out, names); !maps.Equal(got, values) {
		t.Fatalf("values differ after sourcing:\n got %q\nwant %q", got, values)
	}

	t.Run("replay exits 4", func(t *testing.T) {
		res := sandboxInit(t, bs, nil, "write", "--out", filepath.Join(t.TempDir(), "env"))
		if res.code != 4 {
			t.Fatalf("replayed token: exit %d, want 4: %s", res.code, res.stderr)
		}
	})

	t.Run("exec passes the exit code", func(t *testing.T) {
		rt := createRuntime(t, c, ids)
		res := sandboxInit(t, rt.Sandbox.Bootstrap, nil, "exec", "--", "sh", "-c", `[ "$E2E_NEWLINE" = "$(printf 'line one\nline two\n\ttabbed\n_')" ] || [ -n "$E2E_QUOTES" ] && exit 7`)
		if res.code != 7 {
			t.Fatalf("exec: exit %d, want 7: %s", res.code, res.stderr)
		}
	})

	t.Run("forged token exits 5", func(t *testing.T) {
		root := rootClient(t, v)
		forged := map[string]any{}
		for _, n := range names {
			forged[n] = "attacker"
		}
		sec, err := root.Logical().Write("sys/wrapping/wrap", forged)
		if err != nil || sec.WrapInfo == nil {
			// The api client wraps only with a wrap TTL set.
			root.SetWrappingLookupFunc(func(string, string) string { return "5m" })
			sec, err = root.Logical().Write("sys/wrapping/wrap", forged)
		}
		if err != nil || sec == nil || sec.WrapInfo == nil {
			t.Fatalf("wrap: %v", err)
		}
		fake := *bs
		fake.Token = sec.WrapInfo.Token
		res := sandboxInit(t, &fake, nil, "write", "--out", filepath.Join(t.TempDir(), "env"))
		if res.code != 5 {
			t.Fatalf("forged token: exit %d, want 5: %s", res.code, res.stderr)
		}
	})

	t.Run("vault CLI unwraps a broker token", func(t *testing.T) {
		rt := createRuntime(t, c, ids[:1])
		vaultBin, err := exec.LookPath("vault")
		if err != nil {
			vaultBin = os.Getenv("VAULT_BIN")
		}
		if vaultBin == "" {
			vaultBin = filepath.Join(os.Getenv("HOME"), ".cache/secrets-broker/vault-1.21.4/vault")
		}
		cmd := exec.Command(vaultBin, "unwrap", "-format=json", rt.Sandbox.Bootstrap.Token)
		cmd.Env = []string{"VAULT_ADDR=" + v.Addr, "HOME=" + t.TempDir()}
		outb, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("vault unwrap: %v: %s", err, strings.ReplaceAll(string(outb), values[names[0]], "<value>"))
		}
		if !strings.Contains(string(outb), `"E2E_DOLLAR"`) {
			t.Fatalf("vault unwrap output lacks the variable")
		}
	})

	t.Run("restart revokes the old token and carries the new selection", func(t *testing.T) {
		rt := createRuntime(t, c, ids)
		old := rt.Sandbox.Bootstrap
		resp := c.do("POST", "/api/v1/runtimes/"+rt.ID+"/restart", map[string]any{"secret_ids": ids[:1]})
		if resp.Status != 200 {
			t.Fatalf("restart: %d %s", resp.Status, resp.Body)
		}
		var nrt runtimeJSON
		resp.JSON(t, &nrt)
		if res := sandboxInit(t, old, nil, "write", "--out", filepath.Join(t.TempDir(), "env")); res.code != 4 {
			t.Fatalf("old token after restart: exit %d, want 4", res.code)
		}
		out := filepath.Join(t.TempDir(), "env")
		if res := sandboxInit(t, nrt.Sandbox.Bootstrap, nil, "write", "--out", out); res.code != 0 {
			t.Fatalf("new token: exit %d: %s", res.code, res.stderr)
		}
		if got := envFileNames(t, out); !slices.Equal(got, names[:1]) {
			t.Fatalf("after restart the env holds %v, want %v", got, names[:1])
		}
		if get := c.do("GET", "/api/v1/runtimes/"+rt.ID, nil); get.Status != 200 || bytes.Contains(get.Body, []byte(nrt.Sandbox.Bootstrap.Token)) || bytes.Contains(get.Body, []byte(`"token"`)) {
			t.Fatalf("GET runtime: %d or it holds a token: %s", get.Status, get.Body)
		}
	})

	t.Run("delete revokes the outstanding token", func(t *testing.T) {
		rt := createRuntime(t, c, ids)
		if resp := c.do("DELETE", "/api/v1/runtimes/"+rt.ID, nil); resp.Status != 204 {
			t.Fatalf("delete: %d %s", resp.Status, resp.Body)
		}
		if res := sandboxInit(t, rt.Sandbox.Bootstrap, nil, "write", "--out", filepath.Join(t.TempDir(), "env")); res.code != 4 {
			t.Fatalf("token after delete: exit %d, want 4", res.code)
		}
		if resp := c.do("GET", "/api/v1/runtimes/"+rt.ID, nil); resp.Status != 404 {
			t.Fatalf("deleted runtime: %d", resp.Status)
		}
	})

	t.Run("another user's secret: 404 and nothing written", func(t *testing.T) {
		other := newClient(t, b.URL, newAPIKey(t, v, "e2e-other-"+randHex(4)))
		theirs := createSecret(t, other, "THEIR_KEY", "their-value-0123456789")
		before := sandboxesLeft(t, v)
		resp := c.do("POST", "/api/v1/runtimes", map[string]any{"project_id": "p", "secret_ids": []string{ids[0], theirs}})
		unknown := c.do("POST", "/api/v1/runtimes", map[string]any{"project_id": "p", "secret_ids": []string{ids[0], "00000000-0000-4000-8000-000000000000"}})
		if resp.Status != 404 || !bytes.Equal(resp.Body, unknown.Body) {
			t.Fatalf("foreign id: %d %s; unknown id: %d %s", resp.Status, resp.Body, unknown.Status, unknown.Body)
		}
		if after := sandboxesLeft(t, v); after != 0 || before != 0 {
			t.Fatalf("sandboxes/ holds %d entries (before %d)", after, before)
		}
	})

	t.Run("evaluation of 50 items: 100 distinct tokens, same env", func(t *testing.T) {
		items := make([]map[string]string, 50)
		for i := range items {
			items[i] = map[string]string{"name": fmt.Sprintf("item-%d", i)}
		}
		resp := c.do("POST", "/api/v1/evaluations", map[string]any{"project_id": "p", "secret_ids": ids, "items": items})
		if resp.Status != 201 {
			t.Fatalf("evaluation: %d %s", resp.Status, resp.Body)
		}
		var ev struct {
			ID    string
			Items []struct {
				Name           string      `json:"name"`
				RuntimeSandbox sandboxJSON `json:"runtime_sandbox"`
				TaskSandbox    sandboxJSON `json:"task_sandbox"`
			}
		}
		resp.JSON(t, &ev)
		if len(ev.Items) != 50 {
			t.Fatalf("%d items", len(ev.Items))
		}
		seen := map[string]bool{}
		anon := rootClient(t, v)
		anon.SetToken("")
		for _, it := range ev.Items {
			for _, sb := range []sandboxJSON{it.RuntimeSandbox, it.TaskSandbox} {
				if sb.Bootstrap == nil || seen[sb.Bootstrap.Token] || seen[sb.ID] {
					t.Fatalf("item %s: missing or repeated token/sandbox", it.Name)
				}
				seen[sb.Bootstrap.Token], seen[sb.ID] = true, true
				look, err := anon.Logical().Write("sys/wrapping/lookup", map[string]any{"token": sb.Bootstrap.Token})
				if err != nil || look.Data["creation_path"] != "broker/data/sandboxes/"+sb.ID {
					t.Fatalf("lookup: %v %v", look, err)
				}
				anon.SetToken("") // Unwrap adopts the wrapping token as the client's token
				sec, err := anon.Logical().Unwrap(sb.Bootstrap.Token)
				if err != nil {
					t.Fatal(err)
				}
				data := sec.Data["data"].(map[string]any)
				for n, want := range values {
					if data[n] != want {
						t.Fatalf("item %s: %s differs", it.Name, n)
					}
				}
				if len(data) != len(values) {
					t.Fatalf("item %s: %d variables", it.Name, len(data))
				}
			}
		}
		if get := c.do("GET", "/api/v1/evaluations/"+ev.ID, nil); get.Status != 200 || bytes.Contains(get.Body, []byte(`"token"`)) {
			t.Fatalf("GET evaluation: %d, token present: %s", get.Status, get.Body)
		}
	})

	t.Run("a failure between bundle write and wrap leaves nothing", func(t *testing.T) {
		root := rootClient(t, v)
		pol, err := root.Sys().GetPolicy("secrets-broker")
		if err != nil {
			t.Fatal(err)
		}
		stanza := "path \"broker/data/sandboxes/*\" {\n  capabilities = [\"create\", \"read\", \"update\", \"delete\"]\n"
		if !strings.Contains(pol, stanza) {
			t.Fatalf("policy layout changed:\n%s", pol)
		}
		// The bundle write succeeds; the wrapped read back is denied.
		short := strings.Replace(pol, stanza, "path \"broker/data/sandboxes/*\" {\n  capabilities = [\"create\", \"update\", \"delete\"]\n", 1)
		if err := root.Sys().PutPolicy("secrets-broker", short); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = root.Sys().PutPolicy("secrets-broker", pol) }()
		resp := c.do("POST", "/api/v1/runtimes", map[string]any{"project_id": "p", "secret_ids": ids})
		if resp.Status != 403 && resp.Status < 500 {
			t.Fatalf("provision whose wrapped read is denied: %d %s", resp.Status, resp.Body)
		}
		if !bytes.Contains(resp.Body, []byte("wrap sandbox bundle")) {
			t.Fatalf("the failure did not happen at the wrapped read: %s", resp.Body)
		}
		if n := sandboxesLeft(t, v); n != 0 {
			t.Fatalf("%d bundles left under sandboxes/", n)
		}
	})

	for _, val := range values {
		if strings.Contains(b.Logs.String(), val) || strings.Contains(c.bodies.String(), val) {
			t.Fatalf("a stored value leaked into the logs or a response body")
		}
	}
}

// TestBootstrapExpires: a token past its TTL exits 4.
func TestBootstrapExpires(t *testing.T) {
	v := shared.Vault(t)
	cfg := setupVault(t, v)
	b := startBroker(t, cfg, map[string]string{"BROKER_WRAP_TTL": "2s"})
	c := newClient(t, b.URL, newAPIKey(t, v, "e2e-ttl-"+randHex(4)))
	id := createSecret(t, c, "TTL_KEY", "value-for-ttl-test-123456")
	rt := createRuntime(t, c, []string{id})
	time.Sleep(3 * time.Second)
	if res := sandboxInit(t, rt.Sandbox.Bootstrap, nil, "write", "--out", filepath.Join(t.TempDir(), "env")); res.code != 4 {
		t.Fatalf("expired token: exit %d, want 4: %s", res.code, res.stderr)
	}
}
