package main

import (
	"bytes"
	"context"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// leakMark is in every secret-bearing setting of the leak test; no output
// may contain it.
const leakMark = "LEAKMARK"

// secretEnv sets every secret-bearing setting of brokerd to a marked value.
func secretEnv(t *testing.T) map[string]string {
	dir := t.TempDir()
	sid := filepath.Join(dir, "secret_id")
	if err := os.WriteFile(sid, []byte(leakMark+"_secret_id_contents"), 0o600); err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"VAULT_ADDR":                  "http://127.0.0.1:1",
		"VAULT_TOKEN":                 "hvs." + leakMark + "_vault_token",
		"REDIS_URL":                   "redis://user:" + leakMark + "_redis_pw@127.0.0.1:1/0",
		"BROKER_SANDBOX_VAULT_ADDR":   "http://u:" + leakMark + "_sandbox_pw@127.0.0.1:1",
		"BROKER_VAULT_ROLE_ID_FILE":   filepath.Join(dir, "absent_role_id"),
		"BROKER_VAULT_SECRET_ID_FILE": sid,
	}
}

// TestHelpAndErrorsNeverShowSecrets: -h, usage errors and configuration
// errors of serve and setup never print a token, a password in a URL or the
// contents of a credential file; help says "(set)" instead.
func TestHelpAndErrorsNeverShowSecrets(t *testing.T) {
	env := secretEnv(t)
	with := func(extra map[string]string) map[string]string {
		m := maps.Clone(env)
		maps.Copy(m, extra)
		return m
	}
	sentinelPw := map[string]string{"REDIS_SENTINEL_ADDRS": "127.0.0.1:1", "REDIS_MASTER_NAME": "m",
		"REDIS_SENTINEL_PASSWORD": leakMark + "_sentinel_pw", "REDIS_PASSWORD": leakMark + "_redis_master_pw"}
	sentinel := with(sentinelPw)
	delete(sentinel, "REDIS_URL")
	sentinelBad := maps.Clone(sentinelPw)
	sentinelBad["REDIS_URL"] = ""
	sentinelBad["REDIS_SENTINEL_ADDRS"] = "127.0.0.1"
	cases := []struct {
		name     string
		env      map[string]string
		args     []string
		wantCode int
	}{
		{"serve -h", env, []string{"serve", "-h"}, 0},
		{"serve --help", env, []string{"serve", "--help"}, 0},
		{"setup -h", env, []string{"setup", "-h"}, 0},
		{"brokerd --help", env, []string{"--help"}, 0},
		{"no command", env, nil, 2},
		{"unknown command", env, []string{"serve-it"}, 2},
		{"serve unknown flag", env, []string{"serve", "--bogus"}, 2},
		{"setup unknown flag", env, []string{"setup", "--bogus"}, 2},
		{"serve bad log level", with(map[string]string{"BROKER_LOG_LEVEL": "loud"}), []string{"serve"}, 2},
		{"serve vault addr with password", with(map[string]string{"VAULT_ADDR": "http://u:" + leakMark + "_vault_pw@127.0.0.1:1"}), []string{"serve"}, 2},
		{"serve vault addr unparsable", with(map[string]string{"VAULT_ADDR": "http://u:" + leakMark + " pw@127.0.0.1:1"}), []string{"serve"}, 2},
		{"setup vault addr with password", with(map[string]string{"VAULT_ADDR": "http://u:" + leakMark + "_vault_pw@127.0.0.1:1"}), []string{"setup"}, 2},
		{"serve -h with sentinel passwords", sentinel, []string{"serve", "-h"}, 0},
		{"serve sentinel and redis url", with(sentinelPw), []string{"serve"}, 2},
		{"serve sentinel bad address", with(sentinelBad), []string{"serve"}, 2},
		{"serve sentinel password alone", with(map[string]string{"REDIS_URL": "", "REDIS_PASSWORD": leakMark + "_redis_master_pw"}), []string{"serve"}, 2},
		{"serve approle unreadable role id", with(map[string]string{"VAULT_TOKEN": ""}), []string{"serve"}, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var out, errb bytes.Buffer
			err := run(ctx, c.args, mapEnv(c.env), &out, &errb)
			code := exitCode(err, &errb)
			all := out.String() + errb.String()
			if code != c.wantCode {
				t.Fatalf("exit code %d, want %d; output %q", code, c.wantCode, all)
			}
			if strings.Contains(all, leakMark) {
				t.Fatalf("output shows a secret-bearing setting:\n%s", all)
			}
			if code == 2 && c.args != nil && (out.Len() != 0 || strings.Count(errb.String(), "\n") != 1) {
				t.Fatalf("a usage or configuration error is not one line on stderr: stdout %q, stderr %q", out.String(), errb.String())
			}
			if c.wantCode == 0 && c.args[0] != "--help" {
				if !strings.Contains(out.String(), "[$VAULT_TOKEN]) (set)") {
					t.Fatalf("help does not say VAULT_TOKEN is set:\n%s", out.String())
				}
			}
			if c.env["REDIS_SENTINEL_PASSWORD"] != "" && c.wantCode == 0 {
				for _, v := range []string{"REDIS_SENTINEL_PASSWORD", "REDIS_PASSWORD"} {
					if !strings.Contains(out.String(), "[$"+v+"]) (set)") {
						t.Fatalf("help does not say %s is set:\n%s", v, out.String())
					}
				}
			}
		})
	}
}
