package main

import (
	"bytes"
	"context"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/acme/secretsbroker/egressproxy"
	"github.com/acme/secretsbroker/internal/testenv"
)

const leakMark = "LEAKMARK"

// baseEnv is a valid configuration but for Vault, which is never reached
// by these tests (they stop at the settings).
func baseEnv(t *testing.T) map[string]string {
	dir := t.TempDir()
	ca := testenv.NewCA(t, "egress CA")
	writeFile(t, filepath.Join(dir, "ca.pem"), ca.CertPEM)
	writeFile(t, filepath.Join(dir, "ca.key"), ca.KeyPEM)
	return map[string]string{
		"VAULT_ADDR": "http://127.0.0.1:1", "VAULT_TOKEN": "hvs." + leakMark + "_token",
		"REDIS_URL":      "redis://u:" + leakMark + "_pw@127.0.0.1:1/0",
		"EGRESS_CA_CERT": filepath.Join(dir, "ca.pem"), "EGRESS_CA_KEY": filepath.Join(dir, "ca.key"),
	}
}

func runEnv(env map[string]string, args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return env[k] }, &out, &errb)
	code := exitCode(err, &errb)
	return out.String(), errb.String(), code
}

// A bad setting exits 2 with one line naming it, before any log line; help
// shows "(set)" for secret-bearing settings, never their values.
func TestBadSettingsExitTwoWithOneLine(t *testing.T) {
	env := baseEnv(t)
	for name, c := range map[string]struct {
		set  map[string]string
		want string
	}{
		"record ttl over 5s": {map[string]string{"EGRESS_RECORD_TTL": "6s"}, "EGRESS_RECORD_TTL"},
		"record ttl not dur": {map[string]string{"EGRESS_RECORD_TTL": "five"}, "EGRESS_RECORD_TTL"},
		"intercept":          {map[string]string{"EGRESS_INTERCEPT": "some"}, "EGRESS_INTERCEPT"},
		"resolve":            {map[string]string{"EGRESS_RESOLVE": "api.openai.com=localhost"}, "EGRESS_RESOLVE"},
		"allow hosts":        {map[string]string{"EGRESS_ALLOW_HOSTS": "10.0.0.1"}, "EGRESS_ALLOW_HOSTS"},
		"no CA":              {map[string]string{"EGRESS_CA_KEY": ""}, "EGRESS_CA_KEY"},
		"CA unreadable":      {map[string]string{"EGRESS_CA_CERT": "/nonexistent/ca.pem"}, "EGRESS_CA_CERT"},
		"CA not a pair":      {map[string]string{"EGRESS_CA_KEY": env["EGRESS_CA_CERT"]}, "EGRESS_CA"},
		"no vault creds":     {map[string]string{"VAULT_TOKEN": ""}, "VAULT_TOKEN"},
		"default deny":       {map[string]string{"EGRESS_DEFAULT_DENY": "maybe"}, "EGRESS_DEFAULT_DENY"},
		"listen busy or bad": {map[string]string{"EGRESS_LISTEN_ADDR": "256.0.0.1:1"}, "EGRESS_LISTEN_ADDR"},
		"value ttl negative": {map[string]string{"EGRESS_VALUE_TTL": "-1s"}, "EGRESS_VALUE_TTL"},
		"log level":          {map[string]string{"EGRESS_LOG_LEVEL": "loud"}, "EGRESS_LOG_LEVEL"},
	} {
		e := maps.Clone(env)
		maps.Copy(e, c.set)
		out, errs, code := runEnv(e, "serve")
		if code != 2 || strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "egressd: ") || !strings.Contains(errs, c.want) || out != "" {
			t.Errorf("%s: exit %d, stderr %q, stdout %q: want exit 2 and one line naming %s", name, code, errs, out, c.want)
		}
		if strings.Contains(errs+out, leakMark) {
			t.Errorf("%s: a secret setting is shown", name)
		}
	}
	out, _, code := runEnv(env, "serve", "-h")
	if code != 0 || !strings.Contains(out, "(set)") || strings.Contains(out, leakMark) || !strings.Contains(out, "EGRESS_RECORD_TTL") {
		t.Fatalf("help: exit %d\n%s", code, out)
	}
}

func TestVersion(t *testing.T) {
	out, errs, code := runEnv(nil, "--version")
	if code != 0 || strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, "egressd ") || !strings.Contains(out, runtime.Version()) {
		t.Fatalf("--version: exit %d %q %q", code, out, errs)
	}
}

// init-ca writes a CA egressd serve accepts, and a second run keeps it.
func TestInitCAWritesAUsableCAOnce(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"EGRESS_CA_CERT": filepath.Join(dir, "ca.pem"), "EGRESS_CA_KEY": filepath.Join(dir, "ca.key")}
	out, errs, code := runEnv(env, "init-ca")
	if code != 0 || !strings.Contains(out, "written") {
		t.Fatalf("init-ca: exit %d %q %q", code, out, errs)
	}
	cert, _ := os.ReadFile(env["EGRESS_CA_CERT"])
	key, _ := os.ReadFile(env["EGRESS_CA_KEY"])
	if st, err := os.Stat(env["EGRESS_CA_KEY"]); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", st, err)
	}
	ca, err := egressproxy.NewCA(cert, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.Leaf("api.openai.com"); err != nil {
		t.Fatal(err)
	}
	out, _, code = runEnv(env, "init-ca")
	if again, _ := os.ReadFile(env["EGRESS_CA_CERT"]); code != 0 || !strings.Contains(out, "already") || string(again) != string(cert) {
		t.Fatalf("second init-ca: exit %d %q", code, out)
	}
	if err := os.Remove(env["EGRESS_CA_KEY"]); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := runEnv(env, "init-ca"); code != 2 || !strings.Contains(errs, "only one") {
		t.Fatalf("init-ca with only the certificate: exit %d %q", code, errs)
	}
}
