package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
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

// testCA is a certificate authority made for one test: the egress CA, or
// an upstream's own.
type testCA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
	keyPEM  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(48 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	kder, _ := x509.MarshalECPrivateKey(key)
	return &testCA{cert: cert, key: key,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})}
}

// leaf is a server certificate for hosts signed by the CA.
func (ca *testCA) leaf(t *testing.T, hosts ...string) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: hosts[0]},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: hosts, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// upstream is an HTTPS server standing in for a real API host, with its
// own CA; it records what it received.
type upstream struct {
	host string
	srv  *httptest.Server
	ca   *testCA

	mu   sync.Mutex
	reqs []*http.Request
}

func (u *upstream) received() []*http.Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]*http.Request(nil), u.reqs...)
}

// newUpstream starts an HTTPS server for host; h answers (nil: 200 "ok").
func newUpstream(t *testing.T, host string, h http.HandlerFunc) *upstream {
	t.Helper()
	u := &upstream{host: host, ca: newTestCA(t, "upstream CA for "+host)}
	u.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.reqs = append(u.reqs, r.Clone(context.Background()))
		u.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	u.srv.TLS = &tls.Config{Certificates: []tls.Certificate{u.ca.leaf(t, host)}}
	u.srv.StartTLS()
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) addr() string { return u.srv.Listener.Addr().String() }

// world is a Vault set up for the broker, a broker service writing
// secrets through the real vaultx path, and the root token for planting
// egress records the way the broker writes them.
type world struct {
	vault *testenv.Vault
	admin *api.Client
	vc    *vaultx.Client
	svc   *broker.Service
	egCA  *testCA
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
	w := &world{vault: v, admin: admin, vc: vc, svc: svc, egCA: newTestCA(t, "egress CA"), dir: dir}
	writeFile(t, filepath.Join(dir, "egress-ca.pem"), w.egCA.certPEM)
	writeFile(t, filepath.Join(dir, "egress-ca.key"), w.egCA.keyPEM)
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
func (w *world) startEgressd(t *testing.T, ups []*upstream, extra map[string]string) *proxyd {
	t.Helper()
	var resolve []string
	var roots []byte
	for _, u := range ups {
		resolve = append(resolve, u.host+"="+u.addr())
		roots = append(roots, u.ca.certPEM...)
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
func (w *world) caBundle(t *testing.T, ups ...*upstream) string {
	t.Helper()
	b := append([]byte(nil), w.egCA.certPEM...)
	for _, u := range ups {
		b = append(b, u.ca.certPEM...)
	}
	f := filepath.Join(t.TempDir(), "ca-bundle.pem")
	writeFile(t, f, b)
	return f
}

// client is a Go HTTP client of a sandbox: through the proxy, trusting
// the bundle.
func (w *world) client(t *testing.T, p *proxyd, sb *sandbox, ups ...*upstream) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(w.egCA.certPEM)
	for _, u := range ups {
		pool.AppendCertsFromPEM(u.ca.certPEM)
	}
	pu, _ := url.Parse(p.proxyURL(sb))
	return &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		Proxy:           http.ProxyURL(pu),
		TLSClientConfig: &tls.Config{RootCAs: pool},
		DialContext:     (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}}
}
