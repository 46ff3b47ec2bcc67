package e2e

import (
	"crypto/rand"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/client"
	"github.com/acme/secretsbroker/internal/testenv"
)

const openai = "api.openai.com"

// placeholderRE is an openai placeholder: the prefix masked_value shows,
// the marker, base62 randomness.
var placeholderRE = regexp.MustCompile(`^sk-p` + broker.PlaceholderMarker + `[0-9A-Za-z]{22,}$`)

func randValue(t *testing.T, prefix string) string {
	t.Helper()
	const abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 40)
	for i := range b {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(abc))))
		if err != nil {
			t.Fatal(err)
		}
		b[i] = abc[n.Int64()]
	}
	return prefix + string(b)
}

// egressWorld is every real process of egress delivery: brokerd (setup,
// then serve) and egressd (on the AppRole setup wrote) on the package's
// Vault and Redis, an HTTPS upstream standing in for api.openai.com that
// echoes the Authorization it received, and a user's SDK client whose
// every answer is recorded.
type egressWorld struct {
	vault    *testenv.Vault
	redis    *testenv.Redis
	dir      string
	up       *testenv.Upstream
	egressd  *testenv.Server
	brokerd  *testenv.Server
	setupOut string
	api      *client.Client
	answers  *recorder
	initBin  string
}

func newEgressWorld(t *testing.T) *egressWorld {
	t.Helper()
	w := &egressWorld{vault: env.Vault(t), redis: env.Redis(t), dir: t.TempDir()}
	brokerdBin, egressdBin := testenv.Command(t, "brokerd"), testenv.Command(t, "egressd")
	w.initBin = testenv.Command(t, "sandbox-init")
	base := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + w.dir, "VAULT_ADDR=" + w.vault.Addr}
	f := func(name string) string { return filepath.Join(w.dir, name) }

	// brokerd setup writes both AppRoles; egressd init-ca the interception CA.
	out, errOut, code := run(t, append(base, "VAULT_TOKEN="+w.vault.Token), brokerdBin, "setup",
		"--role-id-file", f("role_id"), "--secret-id-file", f("secret_id"),
		"--egress-role-id-file", f("egress_role_id"), "--egress-secret-id-file", f("egress_secret_id"))
	if code != 0 {
		t.Fatalf("brokerd setup: exit %d\n%s%s", code, out, errOut)
	}
	w.setupOut = out + errOut
	if out, errOut, code := run(t, base, egressdBin, "init-ca", "--cert-out", f("egress-ca.pem"), "--key-out", f("egress-ca.key")); code != 0 {
		t.Fatalf("egressd init-ca: exit %d\n%s%s", code, out, errOut)
	}

	w.up = testenv.NewUpstream(t, openai, func(rw http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(rw, "auth="+r.Header.Get("Authorization")+"\n")
	})
	upCA := writeFile(t, w.dir, "upstream-ca.pem", w.up.CA.CertPEM)
	w.egressd = testenv.StartServer(t, egressdBin, []string{"serve"}, append(base,
		"EGRESS_VAULT_ROLE_ID_FILE="+f("egress_role_id"), "EGRESS_VAULT_SECRET_ID_FILE="+f("egress_secret_id"),
		"EGRESS_LISTEN_ADDR="+testenv.FreeAddr(t), "EGRESS_ADMIN_ADDR="+testenv.FreeAddr(t),
		"EGRESS_CA_CERT="+f("egress-ca.pem"), "EGRESS_CA_KEY="+f("egress-ca.key"),
		"EGRESS_UPSTREAM_CA="+upCA, "EGRESS_RESOLVE="+openai+"="+w.up.Addr(),
		"EGRESS_VALUE_TTL=1s", "EGRESS_RECORD_TTL=5s", "REDIS_URL="+w.redis.URL))
	hc := &http.Client{Timeout: 5 * time.Second}
	if resp, err := hc.Get(w.egressd.Admin + "/readyz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("egressd /readyz on its AppRole: %v %v\n%s", resp, err, w.egressd.Logs.String())
	} else {
		resp.Body.Close()
	}

	w.brokerd = testenv.StartServer(t, brokerdBin, []string{"serve"}, append(base,
		"BROKER_VAULT_ROLE_ID_FILE="+f("role_id"), "BROKER_VAULT_SECRET_ID_FILE="+f("secret_id"),
		"BROKER_LISTEN_ADDR="+testenv.FreeAddr(t), "BROKER_ADMIN_ADDR="+testenv.FreeAddr(t), "REDIS_URL="+w.redis.URL,
		"BROKER_EGRESS_PROXY_URL="+w.egressd.API, "BROKER_EGRESS_CA_CERT="+f("egress-ca.pem")))

	w.answers = &recorder{next: &http.Transport{}}
	var err error
	w.api, err = client.New(w.brokerd.API, apiKey(t, w.vault, testenv.RandID("e2e-")),
		client.WithHTTPClient(&http.Client{Timeout: 30 * time.Second, Transport: w.answers}))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// egressRuntime provisions a runtime with delivery egress for the secrets
// and returns it with its bootstrap.
func (w *egressWorld) egressRuntime(t *testing.T, name string, ids ...string) (client.Runtime, *client.Bootstrap) {
	t.Helper()
	rt, err := w.api.CreateRuntime(testenv.Context(t, 30*time.Second), client.CreateRuntimeRequest{
		ProjectID: "e2e", Name: name, SecretIDs: ids, Delivery: broker.DeliveryEgress})
	if err != nil {
		t.Fatalf("create runtime %s: %v", name, err)
	}
	bs := rt.Sandbox.Bootstrap
	if bs == nil || bs.Token == "" || bs.Delivery != broker.DeliveryEgress || bs.ProxyURL != w.egressd.API {
		t.Fatalf("runtime %s: bootstrap %+v, want delivery egress and proxy_url %s", name, bs, w.egressd.API)
	}
	return rt, bs
}

// sandboxInit runs the real sandbox-init for a bootstrap, in a sandbox
// whose environment is only PATH, HOME, TMPDIR and the bootstrap.
func (w *egressWorld) sandboxInit(t *testing.T, bs *client.Bootstrap, args ...string) (stdout, stderr string) {
	t.Helper()
	home := t.TempDir()
	stdout, stderr, code := run(t, []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "TMPDIR=" + home,
		"VAULT_ADDR=" + bs.VaultAddr, "BROKER_SANDBOX_ID=" + bs.SandboxID, "BROKER_BOOTSTRAP_TOKEN=" + bs.Token,
		"BROKER_INIT_DEADLINE=10s"}, w.initBin, args...)
	if code != 0 {
		t.Fatalf("sandbox-init %v: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, stdout, stderr)
	}
	return stdout, stderr
}

// parseEnv reads `env` output (NAME=value lines) into a map.
func parseEnv(out string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && k != "" && !strings.ContainsAny(k, " \t") {
			m[k] = v
		}
	}
	return m
}

// checkSandboxEnv checks what a sandbox's environment holds: the
// placeholder (never the value), its own proxy credentials, the CA bundle
// in every CA variable. It returns the placeholder and the proxy password.
func (w *egressWorld) checkSandboxEnv(t *testing.T, what string, e map[string]string, sandboxID string) (string, string) {
	t.Helper()
	ph := e["OPENAI_API_KEY"]
	if !placeholderRE.MatchString(ph) {
		t.Fatalf("%s: OPENAI_API_KEY = %q, want a placeholder", what, ph)
	}
	pu, err := url.Parse(e["HTTPS_PROXY"])
	if err != nil || pu.User == nil || pu.User.Username() != sandboxID || "http://"+pu.Host != w.egressd.API {
		t.Fatalf("%s: HTTPS_PROXY %q, want the sandbox's credentials for %s", what, e["HTTPS_PROXY"], w.egressd.API)
	}
	for _, n := range []string{"HTTP_PROXY", "https_proxy", "http_proxy"} {
		if e[n] != e["HTTPS_PROXY"] {
			t.Fatalf("%s: %s differs from HTTPS_PROXY", what, n)
		}
	}
	bundle := e["SSL_CERT_FILE"]
	for _, n := range []string{"REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", "GIT_SSL_CAINFO"} {
		if bundle == "" || e[n] != bundle {
			t.Fatalf("%s: %s = %q, SSL_CERT_FILE = %q: want the one CA bundle", what, n, e[n], bundle)
		}
	}
	if _, ok := e[broker.EgressCAKey]; ok {
		t.Fatalf("%s: the CA PEM is in the environment", what)
	}
	pass, _ := pu.User.Password()
	if len(pass) < 20 {
		t.Fatalf("%s: a proxy password of %d characters", what, len(pass))
	}
	return ph, pass
}

const pyScript = `import os, sys, requests
r = requests.get(sys.argv[1], headers={"Authorization": "Bearer " + os.environ["OPENAI_API_KEY"]}, timeout=20)
print("status=%d" % r.status_code)
print(r.text, end="")
print("=====")
for k, v in sorted(os.environ.items()):
    print("%s=%s" % (k, v))
`

// The "Must show", end to end with every real process: a user's
// openai preset secret delivered by egress to three sandboxes (curl and
// Python's requests under sandbox-init exec, an env file from
// sandbox-init write); the upstream receives the real value, the sandboxes
// only the placeholder; a PUT reaches the running sandbox within
// EGRESS_VALUE_TTL, a restart gives a new sandbox the new value, a DELETE
// (or the restart) stops the old sandbox within EGRESS_RECORD_TTL; and
// neither value is in any log, Redis or API answer.
func TestEgressDeliveryEndToEnd(t *testing.T) {
	start := time.Now()
	if _, err := exec.LookPath("curl"); err != nil {
		if testenv.RequireIntegration() {
			t.Fatal("no curl")
		}
		t.Skip("no curl")
	}
	py := pythonWithRequests(t)
	w := newEgressWorld(t)
	ctx := testenv.Context(t, 60*time.Second)
	oldValue, newValue := randValue(t, "sk-proj-"), randValue(t, "sk-proj-")
	var sandboxSaw strings.Builder // everything a sandbox held or printed

	sec, err := w.api.CreateFromPreset(ctx, "openai", oldValue)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sec.EgressHosts, []string{openai}) {
		t.Fatalf("openai preset secret: egress_hosts %v, want [%s]", sec.EgressHosts, openai)
	}
	wantAuth := func(i int, value string) {
		t.Helper()
		got := w.up.Received()
		if len(got) != i+1 {
			t.Fatalf("upstream received %d requests, want %d", len(got), i+1)
		}
		if a := got[i].Header.Get("Authorization"); a != "Bearer "+value {
			// (named, not printed: a failure message holds no value)
			which := map[string]string{"Bearer " + oldValue: "the old value", "Bearer " + newValue: "the new value"}[a]
			if which == "" {
				which = "neither value"
			}
			t.Fatalf("upstream request %d: Authorization carries %s, want the value current then", i+1, which)
		}
		if got[i].Header.Get("Proxy-Authorization") != "" {
			t.Fatal("the proxy credentials reached the upstream")
		}
	}

	// 1a. curl under sandbox-init exec; the sandbox's env dumped with env.
	rtA, bsA := w.egressRuntime(t, "curl", sec.ID)
	out, errOut := w.sandboxInit(t, bsA, "exec", "--", "sh", "-c",
		`env; echo =====; exec curl -sS --fail-with-body -H "Authorization: Bearer $OPENAI_API_KEY" https://`+openai+`/v1/x`)
	sandboxSaw.WriteString(out + errOut)
	envOut, curlOut, _ := strings.Cut(out, "=====\n")
	envA := parseEnv(envOut)
	phA, passA := w.checkSandboxEnv(t, "sandbox A (exec)", envA, bsA.SandboxID)
	if curlOut != "auth=Bearer "+phA+"\n" {
		t.Fatalf("curl read %q, want the placeholder reflected", curlOut)
	}
	wantAuth(0, oldValue)

	// 1b. Python's requests under sandbox-init exec, a second runtime.
	_, bsB := w.egressRuntime(t, "python", sec.ID)
	out, errOut = w.sandboxInit(t, bsB, "exec", "--", py, "-c", pyScript, "https://"+openai+"/v1/chat/completions")
	sandboxSaw.WriteString(out + errOut)
	pyOut, envOut, _ := strings.Cut(out, "=====\n")
	phB, passB := w.checkSandboxEnv(t, "sandbox B (python)", parseEnv(envOut), bsB.SandboxID)
	if pyOut != "status=200\nauth=Bearer "+phB+"\n" {
		t.Fatalf("python read %q, want 200 and the placeholder reflected", pyOut)
	}
	if phA == phB {
		t.Fatal("two sandboxes share a placeholder")
	}
	wantAuth(1, oldValue)

	// 1c. sandbox-init write: the env file, sourced by the running sandbox.
	rtC, bsC := w.egressRuntime(t, "write", sec.ID)
	cdir := t.TempDir()
	envFile := filepath.Join(cdir, "env")
	out, errOut = w.sandboxInit(t, bsC, "write", "--out", envFile)
	sandboxSaw.WriteString(out + errOut)
	for _, p := range []string{envFile, envFile + ".ca.pem"} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("sandbox C's files: %v", err)
		}
		sandboxSaw.Write(b)
	}
	// The running sandbox: a shell that sources the env file, then curl.
	curlC := func() (string, int) {
		t.Helper()
		cmd := exec.CommandContext(ctx, "sh", "-c",
			`set -a; . ./env; env; echo =====; exec curl -sS -o /dev/stderr -w '%{http_code} %{http_connect}' -H "Authorization: Bearer $OPENAI_API_KEY" https://`+openai+`/v1/x`)
		cmd.Dir, cmd.Env = cdir, []string{"PATH=" + os.Getenv("PATH"), "HOME=" + cdir}
		b, err := cmd.CombinedOutput()
		sandboxSaw.Write(b)
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			return string(b), ee.ExitCode()
		case err != nil:
			t.Fatal(err)
		}
		return string(b), 0
	}
	out, code := curlC()
	envOut, res, _ := strings.Cut(out, "=====\n")
	phC, passC := w.checkSandboxEnv(t, "sandbox C (env file)", parseEnv(envOut), bsC.SandboxID)
	if code != 0 || res != "auth=Bearer "+phC+"\n200 200" {
		t.Fatalf("sandbox C's curl: exit %d, %q", code, res)
	}
	wantAuth(2, oldValue)

	// 2. A new value reaches the running sandbox after EGRESS_VALUE_TTL.
	if _, err := w.api.UpdateSecret(ctx, sec.ID, newValue); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1200 * time.Millisecond)
	if out, code := curlC(); code != 0 || !strings.HasSuffix(out, "auth=Bearer "+phC+"\n200 200") {
		t.Fatalf("sandbox C after the PUT: exit %d, %q", code, out)
	}
	wantAuth(3, newValue)

	// A restart gives runtime A a new egress sandbox (the delivery is
	// kept), which gets the new value; the old sandbox's records go.
	rtA2, err := w.api.RestartRuntime(ctx, rtA.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	bsA2 := rtA2.Sandbox.Bootstrap
	if bsA2 == nil || bsA2.Delivery != broker.DeliveryEgress || bsA2.SandboxID == bsA.SandboxID || bsA2.ProxyURL != w.egressd.API {
		t.Fatalf("restarted runtime A: bootstrap %+v, want a new egress sandbox", bsA2)
	}
	out, errOut = w.sandboxInit(t, bsA2, "exec", "--", "sh", "-c",
		`env; echo =====; exec curl -sS --fail-with-body -H "Authorization: Bearer $OPENAI_API_KEY" https://`+openai+`/v1/x`)
	sandboxSaw.WriteString(out + errOut)
	envOut, curlOut, _ = strings.Cut(out, "=====\n")
	phA2, passA2 := w.checkSandboxEnv(t, "sandbox A' (restarted)", parseEnv(envOut), bsA2.SandboxID)
	if curlOut != "auth=Bearer "+phA2+"\n" || phA2 == phA {
		t.Fatalf("restarted A's curl read %q, want its own new placeholder reflected", curlOut)
	}
	wantAuth(4, newValue)

	// ... and DELETE of runtime C stops it: a request 5 s later is
	// refused, as is one of A's old sandbox (restarted away).
	if err := w.api.DeleteRuntime(ctx, rtC.ID); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5*time.Second + 100*time.Millisecond)
	out, code = curlC()
	_, res, _ = strings.Cut(out, "=====\n")
	if code == 0 || !(strings.Contains(res, "407") || strings.Contains(res, "403")) {
		t.Fatalf("sandbox C 5 s after its runtime's DELETE: exit %d, %q; want 407 or 403", code, res)
	}
	oldA := exec.CommandContext(ctx, "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{http_connect}",
		"-H", "Authorization: Bearer "+phA, "https://"+openai+"/v1/x")
	oldA.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + cdir, "HTTPS_PROXY=" + envA["HTTPS_PROXY"], "CURL_CA_BUNDLE=" + envFile + ".ca.pem"}
	b, err := oldA.CombinedOutput()
	sandboxSaw.Write(b)
	if err == nil || !(strings.Contains(string(b), "407") || strings.Contains(string(b), "403")) {
		t.Fatalf("A's old sandbox after the restart: %v %q; want 407 or 403", err, b)
	}
	if n := len(w.up.Received()); n != 5 {
		t.Fatalf("the upstream received %d requests, want 5 (none after the DELETE or from A's old sandbox)", n)
	}

	// 3. The values are nowhere but upstream: not in what the sandboxes
	// held or printed, egressd's or brokerd's logs, Redis, or any answer.
	redisDump, _, err := testenv.DumpRedis(w.redis.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(w.egressd.Logs.String(), `"event":"egress_substitution"`) {
		t.Fatalf("egressd logged no substitution:\n%s", w.egressd.Logs.String())
	}
	places := map[string]string{
		"sandbox": sandboxSaw.String(), "egressd log": w.egressd.Logs.String(), "brokerd log": w.brokerd.Logs.String(),
		"brokerd setup output": w.setupOut, "Redis": redisDump, "API answers": w.answers.buf.String(),
	}
	for name, text := range places {
		if text == "" && name != "Redis" {
			t.Fatalf("nothing captured from %s", name)
		}
		for _, v := range []string{oldValue, newValue} {
			for _, enc := range testenv.Encodings(v) {
				if strings.Contains(text, enc) {
					t.Fatalf("a value (encoded %q) is in %s", enc, name)
				}
			}
		}
	}
	// What only a sandbox may hold (its placeholder and proxy password) is
	// in no log, Redis or answer either; its bootstrap token only in the
	// answer that minted it.
	for _, v := range []string{phA, phB, phC, phA2, passA, passB, passC, passA2, bsA.Token, bsB.Token, bsC.Token, bsA2.Token} {
		for name, text := range places {
			minted := name == "API answers" && slices.Contains([]string{bsA.Token, bsB.Token, bsC.Token, bsA2.Token}, v)
			if name != "sandbox" && !minted && strings.Contains(text, v) {
				t.Fatalf("a placeholder, proxy password or bootstrap token is in %s", name)
			}
		}
	}
	t.Logf("refused 5 s after the DELETE: %q; A's old sandbox: %q", res, b)
	t.Logf("end to end in %s (Redis dump %d bytes, %d API answer bytes)", time.Since(start).Round(time.Millisecond), len(redisDump), len(places["API answers"]))
}
