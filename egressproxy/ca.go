package egressproxy

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"sync"
	"time"

	"github.com/acme/secretsbroker/broker"
)

// leafLifetime is how long a minted leaf certificate is valid; it is minted
// again when less than a quarter remains.
const leafLifetime = 24 * time.Hour

// CA mints the leaf certificates of intercepted hosts from the egress CA and
// caches them per host. One leaf key (P-256) serves every leaf.
type CA struct {
	cert    *x509.Certificate
	certDER []byte
	key     crypto.Signer
	leafKey *ecdsa.PrivateKey
	now     func() time.Time

	mu    sync.Mutex
	cache map[string]*tls.Certificate
}

// maxLeaves bounds the leaf cache; a full cache is emptied.
const maxLeaves = 10000

// NewCA reads the egress CA from its PEM certificate and key.
// Errors: invalid (unreadable PEM, not a CA, key does not match).
func NewCA(certPEM, keyPEM []byte, now func() time.Time) (*CA, error) {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, broker.WithCode(broker.CodeInvalid, err, "egress CA: certificate and key do not form a pair: "+err.Error())
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, broker.WithCode(broker.CodeInvalid, err, "egress CA: certificate does not parse")
	}
	if !cert.IsCA {
		return nil, broker.Errorf(broker.CodeInvalid, "egress CA: the certificate is not a CA (basicConstraints CA:TRUE)")
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, broker.Errorf(broker.CodeInvalid, "egress CA: unsupported key type")
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, broker.WithCode(broker.CodeInternal, err, "egress CA: no randomness")
	}
	if now == nil {
		now = time.Now
	}
	return &CA{cert: cert, certDER: pair.Certificate[0], key: signer, leafKey: leafKey, now: now, cache: map[string]*tls.Certificate{}}, nil
}

// Leaf returns a certificate for host (a DNS name or an IP address), minted
// on first use and cached. Errors: internal.
func (ca *CA) Leaf(host string) (*tls.Certificate, error) {
	now := ca.now()
	ca.mu.Lock()
	if c, ok := ca.cache[host]; ok && now.Before(c.Leaf.NotAfter.Add(-leafLifetime/4)) {
		ca.mu.Unlock()
		return c, nil
	}
	ca.mu.Unlock()

	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, broker.WithCode(broker.CodeInternal, err, "leaf certificate: no randomness")
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: host},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(leafLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{host}
	}
	if tmpl.NotAfter.After(ca.cert.NotAfter) {
		tmpl.NotAfter = ca.cert.NotAfter
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &ca.leafKey.PublicKey, ca.key)
	if err != nil {
		return nil, broker.WithCode(broker.CodeInternal, err, "leaf certificate: cannot sign")
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, broker.WithCode(broker.CodeInternal, err, "leaf certificate: does not parse")
	}
	c := &tls.Certificate{Certificate: [][]byte{der, ca.certDER}, PrivateKey: ca.leafKey, Leaf: leaf}
	ca.mu.Lock()
	if len(ca.cache) >= maxLeaves {
		clear(ca.cache)
	}
	ca.cache[host] = c
	ca.mu.Unlock()
	return c, nil
}
