package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseArgs(t *testing.T) {
	ok := []struct {
		args []string
		want command
	}{
		{[]string{"write", "--out", "/x/e"}, command{name: "write", out: "/x/e"}},
		{[]string{"write", "-out=/x/e"}, command{name: "write", out: "/x/e"}},
		{[]string{"exec", "--", "sh", "-c", "exit 7"}, command{name: "exec", argv: []string{"sh", "-c", "exit 7"}}},
		{[]string{"exec", "env"}, command{name: "exec", argv: []string{"env"}}},
	}
	for _, c := range ok {
		got, err := parseArgs(c.args)
		if err != nil || got.name != c.want.name || got.out != c.want.out || !slices.Equal(got.argv, c.want.argv) {
			t.Errorf("parseArgs(%q) = %+v, %v", c.args, got, err)
		}
	}
	for _, bad := range [][]string{nil, {"frobnicate"}, {"write"}, {"write", "--out"}, {"write", "--out", "x", "extra"},
		{"write", "--bogus", "x"}, {"exec"}, {"exec", "--"}} {
		if _, err := parseArgs(bad); err == nil {
			t.Errorf("parseArgs(%q) accepted", bad)
		}
	}
}

func TestUsageErrorsExit2WithOneLine(t *testing.T) {
	for _, args := range [][]string{nil, {"bogus"}, {"write"}, {"exec", "--"}} {
		r := runInit(t, nil, nil, args...)
		if r.code != exitUsage {
			t.Errorf("%q: exit %d, want 2", args, r.code)
		}
		if n := strings.Count(r.stderr, "\n"); n != 1 {
			t.Errorf("%q: %d lines on stderr, want 1: %q", args, n, r.stderr)
		}
	}
	if r := runInit(t, nil, nil, "--help"); r.code != 0 || !strings.Contains(r.stdout, "Exit codes") {
		t.Errorf("--help: exit %d, %q", r.code, r.stdout)
	}
}

func TestConfigErrorsExit2(t *testing.T) {
	const token = "hvs.CAESIconfigTestTokenValue"
	base := map[string]string{"VAULT_ADDR": "http://127.0.0.1:1", "BROKER_SANDBOX_ID": "sb-1", "BROKER_BOOTSTRAP_TOKEN": token}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for kk, vv := range base {
			m[kk] = vv
		}
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	cases := map[string]map[string]string{
		"no sandbox id":      with("BROKER_SANDBOX_ID", ""),
		"sandbox id slash":   with("BROKER_SANDBOX_ID", "a/b"),
		"no vault addr":      with("VAULT_ADDR", ""),
		"no token":           with("BROKER_BOOTSTRAP_TOKEN", ""),
		"token and file":     with("BROKER_BOOTSTRAP_TOKEN_FILE", "/nonexistent"),
		"bad deadline":       with("BROKER_INIT_DEADLINE", "soon"),
		"negative deadline":  with("BROKER_INIT_DEADLINE", "-1s"),
		"bad skip verify":    with("VAULT_SKIP_VERIFY", "maybe"),
		"missing CA file":    with("VAULT_CACERT", "/nonexistent/ca.pem"),
		"token file missing": envMap(with("BROKER_BOOTSTRAP_TOKEN", "")).withFile("/nonexistent/token"),
	}
	for name, vars := range cases {
		r := runInit(t, vars, nil, "write", "--out", filepath.Join(t.TempDir(), "e"))
		if r.code != exitUsage {
			t.Errorf("%s: exit %d, want 2: %s", name, r.code, r.stderr)
		}
		if strings.Contains(r.stderr, token) {
			t.Errorf("%s: token in output", name)
		}
	}
}

type envMap map[string]string

func (m envMap) withFile(path string) map[string]string {
	m["BROKER_BOOTSTRAP_TOKEN_FILE"] = path
	return m
}

func TestLoadConfigDefaultsAndParsing(t *testing.T) {
	dir := t.TempDir()
	tok := filepath.Join(dir, "t")
	if err := os.WriteFile(tok, []byte("  hvs.fromfile\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := loadConfig(func(k string) string {
		return map[string]string{"VAULT_ADDR": "https://vault:8200", "BROKER_SANDBOX_ID": "sb-9",
			"BROKER_BOOTSTRAP_TOKEN_FILE": tok, "BROKER_KV_MOUNT": "/team/kv/", "BROKER_INIT_DEADLINE": "2.5",
			"VAULT_SKIP_VERIFY": "true"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.token != "hvs.fromfile" || c.tokenFile != tok || c.creationPath() != "team/kv/data/sandboxes/sb-9" ||
		c.deadline != 2500*time.Millisecond || !c.tls.Insecure {
		t.Errorf("config %+v", c)
	}
	c, err = loadConfig(func(k string) string {
		return map[string]string{"VAULT_ADDR": "http://v", "BROKER_SANDBOX_ID": "x", "BROKER_BOOTSTRAP_TOKEN": "t"}[k]
	})
	if err != nil || c.kvMount != "broker" || c.deadline != 30*time.Second || c.tokenFile != "" {
		t.Errorf("defaults: %+v %v", c, err)
	}
}

func TestChildEnv(t *testing.T) {
	got := childEnv([]string{"PATH=/bin", "BROKER_BOOTSTRAP_TOKEN=secret", "A=old", "KEEP=1"},
		map[string]string{"A": "new", "B": "b=c"})
	want := []string{"PATH=/bin", "KEEP=1", "A=new", "B=b=c"}
	if !slices.Equal(got, want) {
		t.Errorf("childEnv = %q, want %q", got, want)
	}
}

func TestBackoffIsBounded(t *testing.T) {
	prev := time.Duration(0)
	for n := 1; n < 20; n++ {
		d := backoff(n)
		if d < prev || d > 2*time.Second || d <= 0 {
			t.Fatalf("backoff(%d) = %s", n, d)
		}
		prev = d
	}
}
