package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/rs/zerolog"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/inproc"
	"github.com/acme/secretsbroker/internal/testenv"
	"github.com/acme/secretsbroker/layout"
	"github.com/acme/secretsbroker/vaultx"
)

var env testenv.Shared

func TestMain(m *testing.M) { testenv.Main(m, &env) }

// world is a Vault set up for the broker, a broker service writing
// secrets through the real vaultx path, and the root token for planting
// egress records the way the broker writes them.
type world struct {
	vault *testenv.Vault
	admin *api.Client
	vc    *vaultx.Client
	svc   *broker.Service
	egCA  *testenv.CA
	dir   string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	v := env.Vault(t)
	ctx := testenv.Context(t, 60*time.Second)
	admin, err := vaultx.NewAPIClient(vaultx.Config{Addr: v.Addr, Token: v.Token}, vaultx.APIOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	o := vaultx.SetupOptions{RoleIDFile: filepath.Join(dir, "role_id"), SecretIDFile: filepath.Join(dir, "secret_id")}
	if _, err := vaultx.Setup(ctx, admin, o); err != nil {
		t.Fatalf("setup: %v", err)
	}
	vc, err := vaultx.New(ctx, vaultx.Config{Addr: v.Addr, RoleIDFile: o.RoleIDFile, SecretIDFile: o.SecretIDFile}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vc.Close() })
	mem := inproc.New(time.Now, inproc.Options{})
	svc := broker.NewService(broker.Config{}, broker.Deps{Secrets: vc, Crypto: vc, Boot: vc, Records: mem, Cache: mem.ListCache()})
	w := &world{vault: v, admin: admin, vc: vc, svc: svc, egCA: testenv.NewCA(t, "egress CA"), dir: dir}
	writeFile(t, filepath.Join(dir, "egress-ca.pem"), w.egCA.CertPEM)
	writeFile(t, filepath.Join(dir, "egress-ca.key"), w.egCA.KeyPEM)
	return w
}

func writeFile(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// sandbox is an egress sandbox as the broker provisions it: a proxy
// credential and one placeholder per secret, with their records in KV.
type sandbox struct {
	id, pass, user, runtime string
	placeholders            map[string]broker.Placeholder // secret id -> placeholder
}

// secret creates a secret through the broker's real create path.
func (w *world) secret(t *testing.T, user, name, value string) string {
	t.Helper()
	s, err := w.svc.CreateSecret(testenv.Context(t, 30*time.Second), user, broker.CreateSecretInput{Name: name, Value: value})
	if err != nil {
		t.Fatalf("create secret: %v", err)
	}
	return s.ID
}

// rotate writes a new value (a new ciphertext version) of a secret.
func (w *world) rotate(t *testing.T, user, id, value string) {
	t.Helper()
	if _, err := w.svc.UpdateSecret(testenv.Context(t, 30*time.Second), user, id, value); err != nil {
		t.Fatalf("update secret: %v", err)
	}
}

// provision plants the records of a sandbox of user with the given
// secrets (secret id -> hosts), as the broker writes them.
func (w *world) provision(t *testing.T, user string, secrets map[string][]string) *sandbox {
	t.Helper()
	pass, err := broker.NewProxyCredential()
	if err != nil {
		t.Fatal(err)
	}
	sb := &sandbox{id: testenv.RandID("sb"), pass: pass, user: user, runtime: testenv.RandID("rt"), placeholders: map[string]broker.Placeholder{}}
	var all []string
	for id, hosts := range secrets {
		ph, err := broker.NewPlaceholder("sk-pro")
		if err != nil {
			t.Fatal(err)
		}
		sb.placeholders[id] = ph
		w.kvPut(t, layout.EgressPlaceholderPath(broker.TokenHash(ph.Token)), broker.PlaceholderRecord{
			SandboxID: sb.id, UserID: user, SecretID: id, Prefix: ph.Prefix, Hosts: hosts})
		all = append(all, hosts...)
	}
	w.kvPut(t, layout.EgressSandboxPath(sb.id), broker.SandboxEgress{
		SandboxID: sb.id, RuntimeID: sb.runtime, UserID: user, CredentialHash: broker.CredentialHash(pass),
		Hosts: all, ExpiresAt: time.Now().Add(24 * time.Hour)})
	return sb
}

// revoke deletes a sandbox's records, as a restart or delete does.
func (w *world) revoke(t *testing.T, sb *sandbox) {
	t.Helper()
	for _, ph := range sb.placeholders {
		w.kvDelete(t, layout.EgressPlaceholderPath(broker.TokenHash(ph.Token)))
	}
	w.kvDelete(t, layout.EgressSandboxPath(sb.id))
}

func (w *world) kvPut(t *testing.T, p string, v any) {
	t.Helper()
	b, _ := json.Marshal(v)
	var data map[string]any
	_ = json.Unmarshal(b, &data)
	if _, err := w.admin.Logical().WriteWithContext(testenv.Context(t, 10*time.Second), layout.DataPath(vaultx.DefaultKVMount, p), map[string]any{"data": data}); err != nil {
		t.Fatalf("plant %s: %v", p, err)
	}
}

func (w *world) kvDelete(t *testing.T, p string) {
	t.Helper()
	if _, err := w.admin.Logical().DeleteWithContext(testenv.Context(t, 10*time.Second), layout.MetadataPath(vaultx.DefaultKVMount, p)); err != nil {
		t.Fatalf("delete %s: %v", p, err)
	}
}

// proxyd is one egressd started in-process by run.
type proxyd struct {
	addr, admin string
	logs        *testenv.SyncBuffer
	logPath     string
	stop        func()
}

// startEgressd runs `egressd serve` with the world's Vault and CA, the
// upstreams resolved through EGRESS_RESOLVE, and extra settings.
func (w *world) startEgressd(t *testing.T, ups []*testenv.Upstream, extra map[string]string) *proxyd {
	t.Helper()
	var resolve []string
	var roots []byte
	for _, u := range ups {
		resolve = append(resolve, u.Host+"="+u.Addr())
		roots = append(roots, u.CA.CertPEM...)
	}
	upCA := filepath.Join(t.TempDir(), "upstream-roots.pem")
	writeFile(t, upCA, roots)
	p := &proxyd{addr: testenv.FreeAddr(t), admin: testenv.FreeAddr(t), logs: &testenv.SyncBuffer{}}
	e := map[string]string{
		"VAULT_ADDR": w.vault.Addr, "VAULT_TOKEN": w.vault.Token,
		"EGRESS_LISTEN_ADDR": p.addr, "EGRESS_ADMIN_ADDR": p.admin,
		"EGRESS_CA_CERT": filepath.Join(w.dir, "egress-ca.pem"), "EGRESS_CA_KEY": filepath.Join(w.dir, "egress-ca.key"),
		"EGRESS_UPSTREAM_CA": upCA, "EGRESS_RESOLVE": strings.Join(resolve, ","),
	}
	for k, v := range extra {
		e[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var stderr testenv.SyncBuffer
	go func() { done <- run(ctx, []string{"serve"}, func(k string) string { return e[k] }, p.logs, &stderr) }()
	p.stop = func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("egressd: %v (stderr %s)", err, stderr.String())
			}
		case <-time.After(15 * time.Second):
			t.Error("egressd did not stop")
		}
	}
	t.Cleanup(p.stop)
	deadline := time.Now().Add(15 * time.Second)
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := hc.Get("http://" + p.admin + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case err := <-done:
			t.Fatalf("egressd exited: %v (stderr %s)", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("egressd not up: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return p
}

// saveLogs writes egressd's log so far to a file (for brokerctl audit).
func (p *proxyd) saveLogs(t *testing.T) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "egressd.log")
	writeFile(t, f, []byte(p.logs.String()))
	return f
}

// proxyURL is the sandbox's HTTPS_PROXY.
func (p *proxyd) proxyURL(sb *sandbox) string {
	if sb == nil {
		return "http://" + p.addr
	}
	return "http://" + url.UserPassword(sb.id, sb.pass).String() + "@" + p.addr
}

// caBundle is the file a sandbox's clients trust: the egress CA, and the
// upstreams' CAs (for tunnelled hosts, whose own certificate they see).
func (w *world) caBundle(t *testing.T, ups ...*testenv.Upstream) string {
	t.Helper()
	b := append([]byte(nil), w.egCA.CertPEM...)
	for _, u := range ups {
		b = append(b, u.CA.CertPEM...)
	}
	f := filepath.Join(t.TempDir(), "ca-bundle.pem")
	writeFile(t, f, b)
	return f
}

// client is a Go HTTP client of a sandbox: through the proxy, trusting
// the bundle.
func (w *world) client(t *testing.T, p *proxyd, sb *sandbox, ups ...*testenv.Upstream) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(w.egCA.CertPEM)
	for _, u := range ups {
		pool.AppendCertsFromPEM(u.CA.CertPEM)
	}
	pu, _ := url.Parse(p.proxyURL(sb))
	return &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		Proxy:           http.ProxyURL(pu),
		TLSClientConfig: &tls.Config{RootCAs: pool},
		DialContext:     (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}}
}

// logsWhen returns egressd's log once ok holds for it, or after 5 s as it
// is then: a request's lines are written when its handler returns, which
// can be after the client has read the whole answer.
func (p *proxyd) logsWhen(ok func(logs string) bool) string {
	deadline := time.Now().Add(5 * time.Second)
	for {
		logs := p.logs.String()
		if ok(logs) || time.Now().After(deadline) {
			return logs
		}
		time.Sleep(20 * time.Millisecond)
	}
}
