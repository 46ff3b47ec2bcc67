package main

import (
	"bytes"
	"context"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// leakMark is in every secret-bearing setting of the leak test; no output
// may contain it.
const leakMark = "LEAKMARK"

// TestHelpAndErrorsNeverShowSecrets: help, usage errors and configuration
// errors never print the bootstrap token, the token file's contents or a
// password in VAULT_ADDR.
func TestHelpAndErrorsNeverShowSecrets(t *testing.T) {
	dir := t.TempDir()
	spaced := filepath.Join(dir, "token_spaced")
	if err := os.WriteFile(spaced, []byte("hvs."+leakMark+" file contents"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"VAULT_ADDR":             "http://127.0.0.1:1",
		"BROKER_SANDBOX_ID":      "sb-1",
		"BROKER_BOOTSTRAP_TOKEN": "hvs." + leakMark + "_bootstrap_token",
	}
	with := func(kv ...string) map[string]string {
		m := maps.Clone(env)
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(m, kv[i])
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		return m
	}
	out := filepath.Join(dir, "env")
	cases := []struct {
		name     string
		env      map[string]string
		args     []string
		wantCode int
	}{
		{"--help", env, []string{"--help"}, 0},
		{"-h", env, []string{"-h"}, 0},
		{"no command", env, nil, exitUsage},
		{"unknown command", env, []string{"bogus"}, exitUsage},
		{"write without --out", env, []string{"write"}, exitUsage},
		{"write unknown flag", env, []string{"write", "--bogus"}, exitUsage},
		{"bad sandbox id", with("BROKER_SANDBOX_ID", "a/b"), []string{"write", "--out", out}, exitUsage},
		{"token with spaces", with("BROKER_BOOTSTRAP_TOKEN", "hvs."+leakMark+" x"), []string{"write", "--out", out}, exitUsage},
		{"token file with spaces", with("BROKER_BOOTSTRAP_TOKEN", "", "BROKER_BOOTSTRAP_TOKEN_FILE", spaced), []string{"write", "--out", out}, exitUsage},
		{"vault addr with password", with("VAULT_ADDR", "http://u:"+leakMark+"_pw@127.0.0.1:1"), []string{"write", "--out", out}, exitUsage},
		{"vault addr unparsable", with("VAULT_ADDR", "http://u:"+leakMark+" pw@127.0.0.1:1"), []string{"write", "--out", out}, exitUsage},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), c.args, func(k string) string { return c.env[k] }, &stdout, &stderr)
			if code := exitCode(err); code != c.wantCode {
				t.Fatalf("exit code %d, want %d; stderr %q", code, c.wantCode, stderr.String())
			}
			if all := stdout.String() + stderr.String(); strings.Contains(all, leakMark) {
				t.Fatalf("output shows a secret-bearing setting:\n%s", all)
			}
		})
	}
}
