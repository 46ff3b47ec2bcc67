package main

import (
	"bytes"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/internal/atomicfile"
)

// Egress delivery: an egress bundle carries the egress CA certificate under
// broker.EgressCAKey. sandbox-init does not export it: it writes a CA bundle
// file (the system roots plus that CA) and points the usual variables at it,
// so that TLS clients trust egressd's interception certificates and every
// other host's own.

// caFileMode is the mode of the CA bundle: certificates are not secret.
const caFileMode = 0o444

// caVars are set to the CA bundle's path.
var caVars = []string{"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", "GIT_SSL_CAINFO"}

// systemRootFiles are where Linux distributions keep their roots (the list
// crypto/x509 reads on Linux; its pool cannot be exported).
var systemRootFiles = []string{
	"/etc/ssl/certs/ca-certificates.crt",                // Debian, Ubuntu, Gentoo, Alpine
	"/etc/pki/tls/certs/ca-bundle.crt",                  // Fedora, RHEL 6
	"/etc/ssl/ca-bundle.pem",                            // openSUSE
	"/etc/pki/tls/cacert.pem",                           // OpenELEC
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // CentOS, RHEL 7
	"/etc/ssl/cert.pem",                                 // Alpine, macOS
}

// defaultCAOut is the CA bundle's path when --ca-out is not given: beside
// the env file for write, under $TMPDIR for exec.
func defaultCAOut(cmd command, sandboxID string, getenv func(string) string) string {
	if cmd.name == "write" {
		return cmd.out + ".ca.pem"
	}
	tmp := getenv("TMPDIR")
	if tmp == "" {
		tmp = "/tmp"
	}
	return filepath.Join(tmp, "sandbox-init-"+sandboxID+"-ca.pem")
}

// pendingCA is the CA bundle file, created before the token is spent.
type pendingCA struct {
	path string
	f    *atomicfile.Pending
	err  error // creating it failed (a default path: reported only if needed)
}

func createPendingCA(path string) *pendingCA {
	p := &pendingCA{path: path}
	if st, err := os.Lstat(path); err == nil && st.IsDir() {
		p.err = fmt.Errorf("--ca-out %q is an existing directory: name a file", path)
		return p
	}
	f, err := atomicfile.Create(path, caFileMode)
	if err != nil {
		p.err = fmt.Errorf("cannot create the CA bundle in %s: %w", filepath.Dir(path), err)
		return p
	}
	p.f = f
	return p
}

func (p *pendingCA) abort() {
	if p != nil && p.f != nil {
		p.f.Abort()
	}
}

// applyEgressCA takes the egress CA out of env; when there is one, it writes
// the CA bundle to p and sets caVars to its path. It reports whether env was
// an egress bundle and whether system roots were found.
func applyEgressCA(env map[string]string, p *pendingCA, getenv func(string) string) (egress, roots bool, err error) {
	ca, ok := env[broker.EgressCAKey]
	if !ok {
		p.abort() // no temp file left beside the workload
		return false, false, nil
	}
	delete(env, broker.EgressCAKey)
	if p.err != nil {
		return true, false, p.err
	}
	if b, _ := pem.Decode([]byte(ca)); b == nil || b.Type != "CERTIFICATE" {
		p.f.Abort()
		return true, false, errors.New("the bundle's egress CA is not a PEM certificate")
	}
	sys := systemRoots(getenv)
	var buf bytes.Buffer
	buf.Write(sys)
	if len(sys) > 0 && sys[len(sys)-1] != '\n' {
		buf.WriteByte('\n')
	}
	buf.WriteString(ca)
	if _, err := p.f.Write(buf.Bytes()); err != nil {
		p.f.Abort()
		return true, false, err
	}
	if err := p.f.Commit(); err != nil {
		return true, false, err
	}
	abs, err := filepath.Abs(p.path)
	if err != nil {
		abs = p.path
	}
	for _, v := range caVars {
		env[v] = abs
	}
	return true, len(sys) > 0, nil
}

// systemRoots returns the PEM roots the workload would trust without
// egress: SSL_CERT_FILE when set, else the first system file that exists.
func systemRoots(getenv func(string) string) []byte {
	files := systemRootFiles
	if f := getenv("SSL_CERT_FILE"); f != "" {
		files = []string{f}
	}
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil && len(b) > 0 {
			return b
		}
	}
	return nil
}
