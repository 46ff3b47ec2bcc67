package main

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/internal/testenv"
)

func testCAPEM(t *testing.T) string {
	t.Helper()
	return string(testenv.NewCA(t, "egress test CA").CertPEM)
}

// TestEgressBundleWritesCABundle: an egress bundle's CA is not exported; it
// is written after the system roots to the CA bundle (default beside the
// env file, mode 0444), and the five CA variables name that file.
func TestEgressBundleWritesCABundle(t *testing.T) {
	f := sharedFixture(t)
	ca := testCAPEM(t)
	secrets := map[string]string{"OPENAI_API_KEY": "sk-pbph_0123456789abcdefghijABCDEFGHIJ01"}
	bundle := map[string]string{"OPENAI_API_KEY": secrets["OPENAI_API_KEY"], broker.EgressCAKey: ca,
		"HTTPS_PROXY": "http://sb:cred@127.0.0.1:3128", "NO_PROXY": "localhost"}
	id := uniqueID(t)
	token, _ := f.mint(t, id, bundle, "5m")
	out := filepath.Join(t.TempDir(), "env")
	r := runInit(t, f.initEnv(id, token), secrets, "write", "--out", out)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	got := sourceFile(t, out)
	if _, ok := got[broker.EgressCAKey]; ok {
		t.Fatalf("%s exported", broker.EgressCAKey)
	}
	caPath := out + ".ca.pem"
	for _, v := range caVars {
		if got[v] != caPath {
			t.Errorf("%s = %q, want %q", v, got[v], caPath)
		}
	}
	if got["OPENAI_API_KEY"] != secrets["OPENAI_API_KEY"] || got["HTTPS_PROXY"] == "" {
		t.Errorf("env %v", got)
	}
	st, err := os.Stat(caPath)
	if err != nil || st.Mode().Perm() != caFileMode {
		t.Fatalf("CA bundle: %v, %v", st, err)
	}
	b, _ := os.ReadFile(caPath)
	if !strings.HasSuffix(string(b), ca) {
		t.Error("the CA bundle does not end with the egress CA")
	}
	if sys := systemRoots(func(string) string { return "" }); len(sys) > 0 && !strings.HasPrefix(string(b), string(sys)) {
		t.Error("the CA bundle does not start with the system roots")
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatal("the CA bundle does not parse")
	}
	if line := logLine(t, r.stderr); line["delivery"] != "egress" || line["ca_out"] != caPath {
		t.Errorf("log line %v", line)
	}
}

// TestEnvBundleWritesNoCA: an env bundle writes no CA file and sets no CA
// variable, even with --ca-out.
func TestEnvBundleWritesNoCA(t *testing.T) {
	f := sharedFixture(t)
	id := uniqueID(t)
	token, _ := f.mint(t, id, map[string]string{"A_KEY": "value-of-a-key"}, "5m")
	dir := t.TempDir()
	out, caOut := filepath.Join(dir, "env"), filepath.Join(dir, "ca.pem")
	if r := runInit(t, f.initEnv(id, token), nil, "write", "--out", out, "--ca-out", caOut); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if _, err := os.Stat(caOut); !os.IsNotExist(err) {
		t.Fatalf("CA file written for an env bundle: %v", err)
	}
	if got := sourceFile(t, out); got["SSL_CERT_FILE"] != "" || len(got) != 1 {
		t.Fatalf("env %v", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("left in the directory: %v", entries)
	}
}

// TestExecEnvBundleLeavesNoTempFile: with an env bundle, the CA bundle's
// temp file is gone before the workload starts.
func TestExecEnvBundleLeavesNoTempFile(t *testing.T) {
	f := sharedFixture(t)
	id := uniqueID(t)
	token, _ := f.mint(t, id, map[string]string{"A_KEY": "value-of-a-key"}, "5m")
	tmp := t.TempDir()
	vars := f.initEnv(id, token)
	vars["TMPDIR"] = tmp
	dump := filepath.Join(t.TempDir(), "ls")
	r := runInit(t, vars, nil, "exec", "--", "/bin/sh", "-c", `ls -A "$1" > "$0"`, dump, tmp)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if b, _ := os.ReadFile(dump); len(strings.TrimSpace(string(b))) != 0 {
		t.Fatalf("the workload saw %q in TMPDIR", b)
	}
}

// TestCAOutIsCheckedBeforeUnwrap: --ca-out naming a directory is exit 2
// with the token unspent.
func TestCAOutIsCheckedBeforeUnwrap(t *testing.T) {
	f := sharedFixture(t)
	id := uniqueID(t)
	token, _ := f.mint(t, id, map[string]string{broker.EgressCAKey: testCAPEM(t)}, "5m")
	r := runInit(t, f.initEnv(id, token), nil, "exec", "--ca-out", t.TempDir(), "--", "true")
	if r.code != exitUsage || !strings.Contains(r.stderr, "--ca-out") {
		t.Fatalf("exit %d, want 2 naming --ca-out: %s", r.code, r.stderr)
	}
	if !f.tokenAlive(t, token) {
		t.Fatal("a bad --ca-out spent the token")
	}
}

// TestExecEgressSetsCAVars: exec puts the CA bundle under $TMPDIR by
// default and the workload sees the CA variables, not the PEM.
func TestExecEgressSetsCAVars(t *testing.T) {
	f := sharedFixture(t)
	id := uniqueID(t)
	token, _ := f.mint(t, id, map[string]string{broker.EgressCAKey: testCAPEM(t), "X_KEY": "placeholder-x"}, "5m")
	tmp := t.TempDir()
	vars := f.initEnv(id, token)
	vars["TMPDIR"] = tmp
	dump := filepath.Join(t.TempDir(), "dump")
	r := runInit(t, vars, nil, "exec", "--", "/bin/sh", "-c", `env > "$0"`, dump)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	b, _ := os.ReadFile(dump)
	want := filepath.Join(tmp, "sandbox-init-"+id+"-ca.pem")
	for _, v := range caVars {
		if !strings.Contains(string(b), v+"="+want+"\n") {
			t.Errorf("workload env lacks %s=%s", v, want)
		}
	}
	if strings.Contains(string(b), broker.EgressCAKey) || strings.Contains(string(b), "BEGIN CERTIFICATE") {
		t.Error("the workload sees the CA PEM")
	}
	if _, err := os.Stat(want); err != nil {
		t.Fatal(err)
	}
}
