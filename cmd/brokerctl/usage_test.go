package main

import (
	"strings"
	"testing"
)

func TestUsageErrorsExit2(t *testing.T) {
	broker := map[string]string{"BROKER_API_KEY": "sbk_test_key_0123456789abcdef"}
	vault := map[string]string{"VAULT_ADDR": "http://127.0.0.1:1", "VAULT_TOKEN": "root"}
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want string // in the error line
	}{
		{"no command", broker, nil, "expected one of"},
		{"unknown command", broker, []string{"frobnicate"}, "unexpected argument"},
		{"get without ref", broker, []string{"secrets", "get"}, "expected"},
		{"value on the command line", broker, []string{"secrets", "set", "NAME", "sk-live-value"}, "never taken from the command line"},
		{"value on the command line of rotate", broker, []string{"secrets", "rotate", "NAME", "sk-live-value"}, "never taken from the command line"},
		{"value on the command line of presets set", broker, []string{"presets", "set", "openai", "sk-live-value"}, "never taken from the command line"},
		{"rollback without version", broker, []string{"secrets", "rollback", "NAME"}, "--version"},
		{"rollback version 0", broker, []string{"secrets", "rollback", "NAME", "--version", "0"}, "--version"},
		{"rollback version not a number", broker, []string{"secrets", "rollback", "NAME", "--version", "two"}, "--version"},
		{"unknown flag", broker, []string{"secrets", "list", "--bogus"}, "unknown flag"},
		{"bad timeout", broker, []string{"secrets", "list", "--timeout", "soon"}, "timeout"},
		{"no api key", nil, []string{"secrets", "list"}, "BROKER_API_KEY"},
		{"bad broker url", map[string]string{"BROKER_API_KEY": "k", "BROKER_URL": "ftp://x"}, []string{"secrets", "list"}, "malformed"},
		{"apikeys create without user", vault, []string{"apikeys", "create"}, "--user"},
		{"apikeys list without user", vault, []string{"apikeys", "list"}, "--user"},
		{"no vault addr", map[string]string{"VAULT_TOKEN": "root"}, []string{"apikeys", "list", "--user", "alice"}, "VAULT_ADDR"},
		{"no vault token", map[string]string{"VAULT_ADDR": "http://127.0.0.1:1"}, []string{"apikeys", "list", "--user", "alice"}, "VAULT_TOKEN"},
		{"revoke without id", vault, []string{"apikeys", "revoke"}, "--key-stdin"},
		{"revoke id and key-stdin", vault, []string{"apikeys", "revoke", "abcdef123456", "--key-stdin"}, "not both"},
		{"revoke prefix without user", vault, []string{"apikeys", "revoke", "abcdef123456"}, "--user"},
		{"revoke short prefix", vault, []string{"apikeys", "revoke", "abc", "--user", "alice"}, "at least"},
		{"revoke non-hex id", vault, []string{"apikeys", "revoke", "sbk_zzzzzzzz", "--user", "alice"}, "hexadecimal"},
		{"invalid user", vault, []string{"apikeys", "create", "--user", "a/b"}, "user"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runCLI(t, c.env, "", c.args...)
			if r.code != 2 {
				t.Fatalf("exit code %d, want 2; stderr %q", r.code, r.stderr)
			}
			line := oneErrorLine(t, r)
			if !strings.Contains(line, c.want) {
				t.Fatalf("error line %q does not mention %q", line, c.want)
			}
			if r.stdout != "" {
				t.Fatalf("stdout not empty: %q", r.stdout)
			}
			if strings.Contains(r.stderr, "sk-live-value") {
				t.Fatalf("stderr repeats the value given on the command line: %q", r.stderr)
			}
		})
	}
}

func TestHelpExits0(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"secrets", "set", "--help"}, {"apikeys", "revoke", "--help"}} {
		r := runCLI(t, nil, "", args...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d, stderr %q", args, r.code, r.stderr)
		}
		if !strings.Contains(r.stdout, "Usage: brokerctl") {
			t.Fatalf("%v: no usage on stdout: %q", args, r.stdout)
		}
	}
	r := runCLI(t, nil, "", "apikeys", "revoke", "--help")
	if !strings.Contains(r.stdout, "BROKER_AUTH_CACHE_TTL") || !strings.Contains(r.stdout, "30s") {
		t.Fatalf("revoke help does not document the auth cache TTL: %q", r.stdout)
	}
}
