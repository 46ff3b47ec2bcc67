package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"
)

// TestKeysRotateChecksBeforeRotating: a --state file in a missing
// directory, or an operator token that may not rotate or rewrap, stops
// `keys rotate` before it rotates: the transit key keeps its version. Exit
// 2 only for the bad --state (a usage error); a token short of a capability
// is Vault's refusal (exit 1), named in the message.
func TestKeysRotateChecksBeforeRotating(t *testing.T) {
	k := newKeysEnv(t)
	k.seed(t, 1, 2)
	before, _ := k.keyInfo(t)

	r := runCLI(t, k.env, "", "keys", "rotate", "--state", filepath.Join(t.TempDir(), "missing", "rotate.state"))
	if r.code != 2 || !strings.Contains(oneErrorLine(t, r), "does not exist") {
		t.Fatalf("state file in a missing directory: exit %d, %q; want exit 2 naming the directory", r.code, r.stderr)
	}
	if v, _ := k.keyInfo(t); v != before {
		t.Fatalf("a refused run rotated the key: version %d -> %d", before, v)
	}

	// An operator token without rewrap (rotation allowed).
	ctx := context.Background()
	noRewrap := strings.Replace(operatorPolicy, `path "transit/rewrap/broker-secrets"      { capabilities = ["update"] }`, "", 1)
	if noRewrap == operatorPolicy {
		t.Fatal("operatorPolicy changed: update the test")
	}
	if err := k.admin.Sys().PutPolicyWithContext(ctx, "operator-no-rewrap", noRewrap); err != nil {
		t.Fatal(err)
	}
	tok, err := k.admin.Auth().Token().CreateWithContext(ctx, &api.TokenCreateRequest{Policies: []string{"operator-no-rewrap"}, TTL: "10m"})
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"VAULT_ADDR": k.env["VAULT_ADDR"], "VAULT_TOKEN": tok.Auth.ClientToken}
	r = runCLI(t, env, "", "keys", "rotate")
	if r.code != 1 || !strings.Contains(oneErrorLine(t, r), "transit/rewrap/broker-secrets") || !strings.Contains(r.stderr, "nothing was changed") {
		t.Fatalf("token without rewrap: exit %d, %q; want exit 1 naming the path", r.code, r.stderr)
	}
	if v, _ := k.keyInfo(t); v != before {
		t.Fatalf("a token that may not rewrap rotated the key: version %d -> %d", before, v)
	}

	// With everything in order, the same command rotates and rewraps.
	state := filepath.Join(t.TempDir(), "rotate.state")
	r = runCLI(t, k.env, "", "keys", "rotate", "--state", state)
	if r.code != 0 {
		t.Fatalf("keys rotate: exit %d, %q", r.code, r.stderr)
	}
	if v, _ := k.keyInfo(t); v != before+1 {
		t.Fatalf("key version %d after a rotation, want %d", v, before+1)
	}
}
