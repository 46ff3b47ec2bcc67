package main

import (
	"maps"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/acme/secretsbroker/vaultx"
)

// TestTokenFromTheBrokersVaultAdapter closes the loop with the real minting
// code: a token from vaultx.Client.Wrap passes sandbox-init's checks and
// gives back the exact values.
func TestTokenFromTheBrokersVaultAdapter(t *testing.T) {
	f := sharedFixture(t)
	vc, err := vaultx.New(t.Context(), vaultx.Config{Addr: f.v.Addr, Token: f.v.Token}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Close()
	id := uniqueID(t)
	w, err := vc.Wrap(t.Context(), id, trickyEnv, time.Minute)
	if err != nil {
		t.Fatalf("vaultx Wrap: %v", err)
	}
	vars := f.initEnv(id, w.Token)
	vars["BROKER_BOOTSTRAP_ACCESSOR"] = w.Accessor
	out := filepath.Join(t.TempDir(), "e")
	if r := runInit(t, vars, trickyEnv, "write", "--out", out); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if got := sourceFile(t, out); !maps.Equal(got, trickyEnv) {
		t.Errorf("sourced env differs: %q", got)
	}
}
