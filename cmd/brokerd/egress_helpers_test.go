package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/acme/secretsbroker/internal/testenv"
)

// testCerts are PEM files for the egress settings: a CA certificate, a
// leaf (not a CA), the CA with its key in the same file, and garbage.
type testCerts struct{ ca, leaf, caWithKey, garbage string }

func writeTestCerts(t *testing.T) testCerts {
	t.Helper()
	dir := t.TempDir()
	ca := testenv.NewCA(t, "egress test")
	leaf, _ := ca.LeafPEM(t, "egress.test")
	c := testCerts{ca: filepath.Join(dir, "ca.pem"), leaf: filepath.Join(dir, "leaf.pem"),
		caWithKey: filepath.Join(dir, "ca-key.pem"), garbage: filepath.Join(dir, "garbage.pem")}
	for p, b := range map[string][]byte{c.ca: ca.CertPEM, c.leaf: leaf, c.caWithKey: append(append([]byte{}, ca.CertPEM...), ca.KeyPEM...), c.garbage: []byte("not a certificate\n")} {
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return c
}
