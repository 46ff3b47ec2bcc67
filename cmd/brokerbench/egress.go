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
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/inproc"
	"github.com/acme/secretsbroker/layout"
	"github.com/acme/secretsbroker/vaultx"
)

// The egress phase: one request with a substitution through egressd (an
// intercepted CONNECT, the placeholder swapped for the value) against the
// same request straight to the upstream, both over kept-alive connections.
// The upstream is an HTTPS server in this process with its own CA,
// resolved for egressd through EGRESS_RESOLVE.

const egressHost = "api.openai.com"

// egressRow is one concurrency of the egress phase.
type egressRow struct {
	Conc   int
	Direct stats
	Proxy  stats
	// CPU per request: this process (load client and upstream) on a direct
	// request and on a proxied one, and egressd on a proxied one.
	DirectCPU, ProxyBenchCPU, EgressCPU time.Duration
}

// Bound is the highest ratio the measured CPU allows when the three
// processes share the machine's cores and the run is CPU-bound: a direct
// request costs DirectCPU, a proxied one ProxyBenchCPU+EgressCPU.
func (r egressRow) Bound() float64 {
	if r.EgressCPU+r.ProxyBenchCPU == 0 {
		return 0
	}
	return float64(r.DirectCPU) / float64(r.ProxyBenchCPU+r.EgressCPU)
}

// P50Added is the median latency egressd adds.
func (r egressRow) P50Added() time.Duration { return r.Proxy.P50 - r.Direct.P50 }

// Ratio is proxied throughput over direct throughput.
func (r egressRow) Ratio() float64 {
	if r.Direct.Throughput == 0 {
		return 0
	}
	return r.Proxy.Throughput / r.Direct.Throughput
}

// egressReport is the egress phase's outcome.
type egressReport struct {
	Rows  []egressRow
	RSS64 int64 // egressd's peak RSS over the c=64 run
}

type benchCA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
	keyPEM  []byte
}

func newBenchCA(name string) (*benchCA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(48 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, _ := x509.ParseCertificate(der)
	kder, _ := x509.MarshalECPrivateKey(key)
	return &benchCA{cert: cert, key: key, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})}, nil
}

func (ca *benchCA) leaf(host string) (tls.Certificate, error) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), DNSNames: []string{host},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

func (ca *benchCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// runEgress measures the egress phase at each concurrency, then egressd's
// RSS at c=64.
func runEgress(ctx context.Context, cfg config, root, work string, v *vaultServer, logf func(string, ...any)) (egressReport, error) {
	var rep egressReport
	logf("egress phase: building egressd")
	bin := filepath.Join(work, "egressd")
	cmd := exec.CommandContext(ctx, cfg.GoBin, "build", "-trimpath", "-o", bin, "./cmd/egressd")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return rep, fmt.Errorf("go build ./cmd/egressd: %v\n%s", err, b)
	}
	admin, err := vaultx.NewAPIClient(vaultx.Config{Addr: v.addr, Token: v.token}, vaultx.APIOptions{})
	if err != nil {
		return rep, err
	}
	if _, err := vaultx.Setup(ctx, admin, vaultx.SetupOptions{}); err != nil {
		return rep, fmt.Errorf("setup: %w", err)
	}
	vc, err := vaultx.New(ctx, vaultx.Config{Addr: v.addr, Token: v.token}, zerolog.Nop())
	if err != nil {
		return rep, err
	}
	defer vc.Close()
	mem := inproc.New(time.Now, inproc.Options{})
	svc := broker.NewService(broker.Config{}, broker.Deps{Secrets: vc, Crypto: vc, Boot: vc, Records: mem, Cache: mem.ListCache()})
	user, value := "bench-egress", "sk-proj-"+randHex(20)
	sec, err := svc.CreateSecret(ctx, user, broker.CreateSecretInput{Name: "OPENAI_API_KEY", Value: value})
	if err != nil {
		return rep, fmt.Errorf("create secret: %w", err)
	}
	ph, _ := broker.NewPlaceholder("sk-pro")
	pass, _ := broker.NewProxyCredential()
	sandboxID := "bench-" + randHex(6)
	put := func(p string, rec any) error {
		b, _ := json.Marshal(rec)
		var data map[string]any
		_ = json.Unmarshal(b, &data)
		_, err := admin.Logical().WriteWithContext(ctx, layout.DataPath(vaultx.DefaultKVMount, p), map[string]any{"data": data})
		return err
	}
	if err := put(layout.EgressPlaceholderPath(broker.TokenHash(ph.Token)), broker.PlaceholderRecord{SandboxID: sandboxID, UserID: user, SecretID: sec.ID, Prefix: ph.Prefix, Hosts: []string{egressHost}}); err != nil {
		return rep, err
	}
	if err := put(layout.EgressSandboxPath(sandboxID), broker.SandboxEgress{SandboxID: sandboxID, RuntimeID: "bench", UserID: user,
		CredentialHash: broker.CredentialHash(pass), Hosts: []string{egressHost}, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		return rep, err
	}

	egCA, err := newBenchCA("bench egress CA")
	if err != nil {
		return rep, err
	}
	upCA, err := newBenchCA("bench upstream CA")
	if err != nil {
		return rep, err
	}
	leaf, err := upCA.leaf(egressHost)
	if err != nil {
		return rep, err
	}
	body := []byte(`{"object":"list","data":[{"id":"gpt-bench"}]}`)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return rep, err
	}
	up := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+value {
			http.Error(w, "bad credentials", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}), TLSConfig: &tls.Config{Certificates: []tls.Certificate{leaf}}, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = up.ServeTLS(ln, "", "") }()
	defer up.Close()
	upAddr := ln.Addr().String()

	files := map[string][]byte{"egress-ca.pem": egCA.certPEM, "egress-ca.key": egCA.keyPEM, "upstream-ca.pem": upCA.certPEM}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(work, name), b, 0o600); err != nil {
			return rep, err
		}
	}
	port, err := freePort()
	if err != nil {
		return rep, err
	}
	adminPort, err := freePort()
	if err != nil {
		return rep, err
	}
	proxyAddr := fmt.Sprintf("127.0.0.1:%d", port)
	p, err := startProc("egressd", bin, []string{"serve"}, []string{
		"VAULT_ADDR=" + v.addr, "VAULT_TOKEN=" + v.token,
		"EGRESS_LISTEN_ADDR=" + proxyAddr, fmt.Sprintf("EGRESS_ADMIN_ADDR=127.0.0.1:%d", adminPort),
		"EGRESS_CA_CERT=" + filepath.Join(work, "egress-ca.pem"), "EGRESS_CA_KEY=" + filepath.Join(work, "egress-ca.key"),
		"EGRESS_UPSTREAM_CA=" + filepath.Join(work, "upstream-ca.pem"), "EGRESS_RESOLVE=" + egressHost + "=" + upAddr,
		"EGRESS_LOG_LEVEL=warn",                               // one info line per substitution would measure the log, not the proxy
		"EGRESS_CPUPROFILE=" + os.Getenv("EGRESS_CPUPROFILE"), // a CPU profile of egressd, written at its shutdown (empty: none)
	}, filepath.Join(work, "egressd.log"), nil)
	if err != nil {
		return rep, err
	}
	defer p.stop()
	hc := &http.Client{Timeout: 2 * time.Second}
	if err := waitFor(ctx, p, "egressd", func() bool {
		res, err := hc.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", adminPort))
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	}); err != nil {
		return rep, err
	}
	logf("egress phase: egressd pid %d, upstream %s", p.pid(), upAddr)

	proxyURL := &url.URL{Scheme: "http", User: url.UserPassword(sandboxID, pass), Host: proxyAddr}
	newClient := func(conc int, proxied bool) *http.Client {
		tr := &http.Transport{MaxIdleConns: conc * 2, MaxIdleConnsPerHost: conc * 2, IdleConnTimeout: time.Minute}
		if proxied {
			tr.Proxy = http.ProxyURL(proxyURL)
			tr.TLSClientConfig = &tls.Config{RootCAs: egCA.pool()}
		} else {
			tr.TLSClientConfig = &tls.Config{RootCAs: upCA.pool()}
			d := &net.Dialer{Timeout: 5 * time.Second}
			tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
				return d.DialContext(ctx, network, upAddr)
			}
		}
		return &http.Client{Transport: tr, Timeout: 30 * time.Second}
	}
	op := func(c *http.Client, auth string) opFunc {
		return func(ctx context.Context, _, _ int, _ func()) error {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+egressHost+"/v1/models", nil)
			req.Header.Set("Authorization", auth)
			res, err := c.Do(req)
			if err != nil {
				return err
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusOK || string(b) != string(body) {
				return fmt.Errorf("status %d: %s", res.StatusCode, strings.TrimSpace(string(b)))
			}
			return nil
		}
	}
	n := cfg.Requests * 5
	for _, conc := range cfg.EgressConc {
		direct, proxied := newClient(conc, false), newClient(conc, true)
		dop, pop := op(direct, "Bearer "+value), op(proxied, "Bearer "+ph.String())
		// Warm up: connections, leaf certificate, record and value caches.
		drive(ctx, conc, 0, conc*2, dop)
		drive(ctx, conc, 0, conc*2, pop)
		var r egressRow
		r.Conc = conc
		if conc == 64 {
			_ = resetPeakRSS(p.pid())
		}
		cpu := func(pid int) time.Duration { d, _ := cpuTime(pid); return d }
		var dSelf, pSelf, pEg time.Duration
		for round := 0; round < cfg.Rounds; round++ {
			s0 := cpu(os.Getpid())
			r.Direct = r.Direct.merge(drive(ctx, conc, 0, n/cfg.Rounds+1, dop))
			s1, e1 := cpu(os.Getpid()), cpu(p.pid())
			r.Proxy = r.Proxy.merge(drive(ctx, conc, 0, n/cfg.Rounds+1, pop))
			dSelf += s1 - s0
			pSelf += cpu(os.Getpid()) - s1
			pEg += cpu(p.pid()) - e1
		}
		if r.Direct.Requests > 0 && r.Proxy.Requests > 0 {
			r.DirectCPU = dSelf / time.Duration(r.Direct.Requests)
			r.ProxyBenchCPU = pSelf / time.Duration(r.Proxy.Requests)
			r.EgressCPU = pEg / time.Duration(r.Proxy.Requests)
		}
		if conc == 64 {
			rep.RSS64, _ = peakRSS(p.pid())
		}
		r.Direct, r.Proxy = r.Direct.summarize(), r.Proxy.summarize()
		logf("egress c=%-3d direct %8.1f/s p50 %s | egressd %8.1f/s p50 %s | added p50 %s, ratio %.2f | err %d/%d",
			conc, r.Direct.Throughput, ms(r.Direct.P50), r.Proxy.Throughput, ms(r.Proxy.P50), ms(r.P50Added()), r.Ratio(), r.Direct.Errors, r.Proxy.Errors)
		logf("  CPU/request: direct %s (client+upstream) | proxied %s client+upstream + %s egressd | CPU bound on ratio %.2f",
			r.DirectCPU, r.ProxyBenchCPU, r.EgressCPU, r.Bound())
		if r.Proxy.FirstError != "" {
			logf("  egressd error: %s", r.Proxy.FirstError)
		}
		rep.Rows = append(rep.Rows, r)
		direct.CloseIdleConnections()
		proxied.CloseIdleConnections()
	}
	if p.exited() {
		return rep, fmt.Errorf("egressd exited during the run (see %s)", filepath.Join(work, "egressd.log"))
	}
	return rep, nil
}

// write prints the egress phase's table and targets.
func (rep egressReport) write(w io.Writer) {
	if len(rep.Rows) == 0 {
		return
	}
	fmt.Fprintf(w, "\negress phase: GET with one substitution through egressd vs straight to the upstream (HTTPS, keep-alive)\n")
	fmt.Fprintf(w, "%-5s %12s %12s %10s %10s %10s %7s %9s %9s %9s %6s %s\n", "conc", "direct/s", "egressd/s", "ratio", "p50 dir", "p50 egr", "added",
		"cpu dir", "cpu c+u", "cpu egr", "bound", "errors")
	for _, r := range rep.Rows {
		fmt.Fprintf(w, "%-5d %12.1f %12.1f %10.2f %10s %10s %7s %9s %9s %9s %6.2f %d/%d\n", r.Conc, r.Direct.Throughput, r.Proxy.Throughput, r.Ratio(),
			msf(r.Direct.P50), msf(r.Proxy.P50), msf(r.P50Added()), us(r.DirectCPU), us(r.ProxyBenchCPU), us(r.EgressCPU), r.Bound(), r.Direct.Errors, r.Proxy.Errors)
	}
	fmt.Fprintf(w, "cpu: CPU per request (µs): dir = this process (client+upstream) on a direct request, c+u = the same on a proxied one,\n")
	fmt.Fprintf(w, "egr = egressd on a proxied one; bound = dir/(c+u+egr), the best ratio a CPU-bound run on shared cores allows\n")
	if rep.RSS64 > 0 {
		fmt.Fprintf(w, "egressd peak RSS at c=64: %.1f MB\n", mb(rep.RSS64))
	}
	fmt.Fprintf(w, "targets: p50 added at c=1 <= 1 ms, throughput at c=32 >= 80%% of direct, RSS at c=64 < 100 MB, zero errors\n")
}
