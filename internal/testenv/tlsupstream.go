package testenv

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// CA is a certificate authority made for one test: an egress proxy's
// interception CA, or an upstream's own.
type CA struct {
	Cert    *x509.Certificate
	Key     *ecdsa.PrivateKey
	CertPEM []byte
	KeyPEM  []byte
}

// NewCA makes a self-signed ECDSA P-256 CA named name, valid for two days.
func NewCA(t testing.TB, name string) *CA {
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
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return &CA{Cert: cert, Key: key,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})}
}

// Leaf is a server certificate for hosts (DNS names or IP addresses)
// signed by the CA.
func (ca *CA) Leaf(t testing.TB, hosts ...string) tls.Certificate {
	t.Helper()
	der, key := ca.leaf(t, hosts)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// LeafPEM is Leaf as PEM: the certificate and its private key, for a server
// configured with files (Vault's TLS listener).
func (ca *CA) LeafPEM(t testing.TB, hosts ...string) (certPEM, keyPEM []byte) {
	t.Helper()
	der, key := ca.leaf(t, hosts)
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

func (ca *CA) leaf(t testing.TB, hosts []string) ([]byte, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: hosts[0]},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	return der, key
}

// Upstream is an HTTPS server on a loopback port standing in for a real
// API host (reached through an egress proxy's EGRESS_RESOLVE), with a
// certificate for Host from its own CA ("upstream CA for <host>"). It
// records every request it receives and stops when the test ends.
type Upstream struct {
	Host string
	Srv  *httptest.Server
	CA   *CA

	mu   sync.Mutex
	reqs []*http.Request
}

// NewUpstream starts an Upstream for host; h answers (nil: 200 "ok").
func NewUpstream(t testing.TB, host string, h http.HandlerFunc) *Upstream {
	t.Helper()
	u := &Upstream{Host: host, CA: NewCA(t, "upstream CA for "+host)}
	u.Srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.reqs = append(u.reqs, r.Clone(context.Background()))
		u.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	u.Srv.TLS = &tls.Config{Certificates: []tls.Certificate{u.CA.Leaf(t, host)}}
	u.Srv.StartTLS()
	t.Cleanup(u.Srv.Close)
	return u
}

// Received returns the requests received so far (their bodies are not kept).
func (u *Upstream) Received() []*http.Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]*http.Request(nil), u.reqs...)
}

// Addr is the server's ip:port (for EGRESS_RESOLVE host=ip:port).
func (u *Upstream) Addr() string { return u.Srv.Listener.Addr().String() }
