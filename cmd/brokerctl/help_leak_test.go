package main

import (
	"maps"
	"strings"
	"testing"
)

// leakMark is in every secret-bearing setting of the leak test; no output
// may contain it.
const leakMark = "LEAKMARK"

// TestHelpAndErrorsNeverShowSecrets: help, usage errors and configuration
// errors never print the API key, the Vault token or a password in a URL.
func TestHelpAndErrorsNeverShowSecrets(t *testing.T) {
	env := map[string]string{
		"BROKER_URL":     "http://127.0.0.1:1",
		"BROKER_API_KEY": "sbk_" + leakMark + "_api_key",
		"VAULT_ADDR":     "http://127.0.0.1:1",
		"VAULT_TOKEN":    "hvs." + leakMark + "_vault_token",
	}
	with := func(k, v string) map[string]string {
		m := maps.Clone(env)
		m[k] = v
		return m
	}
	cases := []struct {
		name     string
		env      map[string]string
		args     []string
		wantCode int
	}{
		{"--help", env, []string{"--help"}, 0},
		{"secrets list --help", env, []string{"secrets", "list", "--help"}, 0},
		{"secrets set --help", env, []string{"secrets", "set", "--help"}, 0},
		{"apikeys create --help", env, []string{"apikeys", "create", "--help"}, 0},
		{"keys rotate --help", env, []string{"keys", "rotate", "--help"}, 0},
		{"audit --help", env, []string{"audit", "--help"}, 0},
		{"unknown command", env, []string{"secret"}, 2},
		{"unknown flag", env, []string{"secrets", "list", "--bogus"}, 2},
		{"broker url with password", with("BROKER_URL", "http://u:"+leakMark+"_pw@127.0.0.1:1"), []string{"secrets", "list"}, 2},
		{"broker url unparsable", with("BROKER_URL", "http://u:"+leakMark+" pw@127.0.0.1:1"), []string{"secrets", "list"}, 2},
		{"vault addr with password", with("VAULT_ADDR", "http://u:"+leakMark+"_pw@127.0.0.1:1"), []string{"apikeys", "list", "--user", "alice"}, 2},
		{"vault addr unparsable", with("VAULT_ADDR", "http://u:"+leakMark+" pw@127.0.0.1:1"), []string{"apikeys", "list", "--user", "alice"}, 2},
		{"audit match vault addr", with("VAULT_ADDR", "http://u:"+leakMark+" pw@127.0.0.1:1"), []string{"audit", "--match", "x", "/dev/null"}, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runCLI(t, c.env, "", c.args...)
			if r.code != c.wantCode {
				t.Fatalf("exit code %d, want %d; stderr %q", r.code, c.wantCode, r.stderr)
			}
			if strings.Contains(r.stdout+r.stderr, leakMark) {
				t.Fatalf("output shows a secret-bearing setting:\n%s%s", r.stdout, r.stderr)
			}
		})
	}
}
