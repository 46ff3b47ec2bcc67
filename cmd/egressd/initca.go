package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"os"
	"time"

	"github.com/acme/secretsbroker/egressproxy"
	"github.com/acme/secretsbroker/internal/atomicfile"
	"github.com/acme/secretsbroker/internal/envflag"
)

// initCA writes a new interception CA (ECDSA P-256) unless both files
// already hold one; the key file is mode 0600, the certificate 0644 (it is
// handed to sandboxes). Idempotent.
func initCA(_ context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	var certOut, keyOut, name string
	var ttl time.Duration
	fl := envflag.New("egressd", "init-ca", getenv, stdout)
	fl.String(&certOut, "cert-out", "EGRESS_CA_CERT", "", "where to write the CA certificate (PEM)")
	fl.String(&keyOut, "key-out", "EGRESS_CA_KEY", "", "where to write the CA private key (PEM, mode 0600)")
	fl.String(&name, "name", "EGRESS_CA_NAME", "secrets broker egress CA", "the CA's common name")
	fl.Duration(&ttl, "ttl", "EGRESS_CA_TTL", 5*365*24*time.Hour, "the CA's lifetime")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if certOut == "" || keyOut == "" {
		return usagef("--cert-out and --key-out (EGRESS_CA_CERT, EGRESS_CA_KEY) are required")
	}
	if ttl < 24*time.Hour {
		return usagef("EGRESS_CA_TTL (%s) must be at least 24h", ttl)
	}
	cert, cerr := os.ReadFile(certOut)
	key, kerr := os.ReadFile(keyOut)
	switch {
	case cerr == nil && kerr == nil:
		if _, err := egressproxy.NewCA(cert, key, time.Now); err != nil {
			return usagef("%s and %s exist but are not a CA pair: %s", certOut, keyOut, errMessage(err))
		}
		fmt.Fprintf(stdout, "egress CA already in %s\n", certOut)
		return nil
	case cerr == nil || kerr == nil:
		return usagef("only one of %s and %s exists: remove it or supply both", certOut, keyOut)
	case !errors.Is(cerr, fs.ErrNotExist) || !errors.Is(kerr, fs.ErrNotExist):
		return fmt.Errorf("cannot read the CA files: %w", errors.Join(cerr, kerr))
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(ttl),
		IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		return err
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(keyOut, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(certOut, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "egress CA written: certificate %s, key %s (valid until %s)\n", certOut, keyOut, tmpl.NotAfter.UTC().Format(time.RFC3339))
	return nil
}
