package main

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/rs/zerolog"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/internal/testenv"
	"github.com/acme/secretsbroker/vaultx"
)

var keyRE = regexp.MustCompile(`^sbk_[A-Za-z0-9_-]{43}\n$`)

// setupVault starts a dev Vault, configures it the way `brokerd setup` does
// and returns the root client and brokerctl's operator environment.
func setupVault(t *testing.T) (*api.Client, map[string]string) {
	t.Helper()
	v := testenv.StartVault(t)
	admin, err := vaultx.NewAPIClient(vaultx.Config{Addr: v.Addr, Token: v.Token}, vaultx.APIOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := vaultx.Setup(ctx, admin, vaultx.SetupOptions{}); err != nil {
		t.Fatalf("vaultx.Setup: %v", oneLine(err.Error()))
	}
	mounts, err := admin.Sys().ListMountsWithContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m := mounts[vaultx.DefaultKVMount+"/"]; m == nil || m.Type != "kv" || m.Options["version"] != "2" {
		t.Fatalf("after Setup, %s/ is %+v, want kv version 2", vaultx.DefaultKVMount, m)
	}
	return admin, map[string]string{"VAULT_ADDR": v.Addr, "VAULT_TOKEN": v.Token}
}

// kvData reads the data of broker/<path> with the root token (nil if absent).
func kvData(t *testing.T, admin *api.Client, path string) map[string]any {
	t.Helper()
	s, err := admin.KVv2(vaultx.DefaultKVMount).Get(context.Background(), path)
	if errors.Is(err, api.ErrSecretNotFound) {
		return nil
	}
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return s.Data
}

// dumpKV walks the whole KV mount with the root token and returns every path
// with its data and metadata, as JSON, for leak checks.
func dumpKV(t *testing.T, admin *api.Client) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	var walk func(prefix string)
	walk = func(prefix string) {
		s, err := admin.Logical().ListWithContext(ctx, vaultx.DefaultKVMount+"/metadata/"+prefix)
		if err != nil {
			t.Fatalf("list %q: %v", prefix, err)
		}
		if s == nil {
			return
		}
		keys, _ := s.Data["keys"].([]any)
		for _, k := range keys {
			name, _ := k.(string)
			if strings.HasSuffix(name, "/") {
				walk(prefix + name)
				continue
			}
			p := prefix + name
			var dump []byte
			for _, kind := range []string{"data", "metadata"} {
				r, err := admin.Logical().ReadWithContext(ctx, vaultx.DefaultKVMount+"/"+kind+"/"+p)
				if err != nil {
					t.Fatalf("read %s %s: %v", kind, p, err)
				}
				b, _ := json.Marshal(r)
				dump = append(dump, b...)
			}
			out[p] = string(dump)
		}
	}
	walk("")
	return out
}

func TestAPIKeysAgainstVault(t *testing.T) {
	admin, env := setupVault(t)
	ctx := context.Background()

	// create prints only the key, newline-terminated; details on stderr.
	r := runCLI(t, env, "", "apikeys", "create", "--user", "alice", "--label", "ci runner")
	if r.code != 0 {
		t.Fatalf("create: exit %d: %s", r.code, r.stderr)
	}
	if !keyRE.MatchString(r.stdout) {
		t.Fatalf("create stdout is not exactly one key line: %q", r.stdout)
	}
	key1 := strings.TrimSuffix(r.stdout, "\n")
	hash1 := broker.HashAPIKey(key1)
	if strings.Contains(r.stderr, key1) || !strings.Contains(r.stderr, hash1[:12]) || !strings.Contains(r.stderr, "alice") {
		t.Fatalf("create stderr %q", r.stderr)
	}

	// Vault holds the SHA-256 of the key under apikeys/<hash>.
	d := kvData(t, admin, "apikeys/"+hash1)
	if d == nil {
		t.Fatalf("apikeys/%s absent from Vault", hash1)
	}
	if d["user_id"] != "alice" || d["label"] != "ci runner" || d["created_at"] == nil {
		t.Fatalf("apikeys/%s = %v", hash1, d)
	}

	// The broker's authenticator, reading the same Vault, accepts the key.
	vc, err := vaultx.New(ctx, vaultx.Config{Addr: env["VAULT_ADDR"], Token: env["VAULT_TOKEN"]}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Close()
	if k, err := broker.NewAuthenticator(vc, time.Nanosecond, nil).Authenticate(ctx, key1); err != nil || k.UserID != "alice" {
		t.Fatalf("Authenticate(new key) = %+v, %v", k, err)
	}

	// More keys: a second for alice, one for bob.
	r = runCLI(t, env, "", "apikeys", "create", "--user", "alice")
	key2 := strings.TrimSuffix(r.stdout, "\n")
	hash2 := broker.HashAPIKey(key2)
	r = runCLI(t, env, "", "apikeys", "create", "--user", "bob", "--label", "bob's laptop")
	keyBob := strings.TrimSuffix(r.stdout, "\n")
	hashBob := broker.HashAPIKey(keyBob)
	if r.code != 0 || key2 == "" || keyBob == "" || key2 == key1 {
		t.Fatalf("second creates failed: %q", r.stderr)
	}

	// No key is stored anywhere in the KV mount, in data or metadata.
	dump := dumpKV(t, admin)
	if len(dump) < 3 {
		t.Fatalf("KV dump has %d entries: %v", len(dump), dump)
	}
	for p, v := range dump {
		for _, k := range []string{key1, key2, keyBob} {
			if strings.Contains(p, k) || strings.Contains(v, k) {
				t.Fatalf("an API key is stored in clear at %s", p)
			}
			// Nor its random part without the prefix.
			if strings.Contains(v, strings.TrimPrefix(k, broker.APIKeyPrefix)) {
				t.Fatalf("an API key's random part is stored at %s", p)
			}
		}
	}

	// list shows alice's keys (12-char ids, labels), not bob's.
	r = runCLI(t, env, "", "apikeys", "list", "--user", "alice")
	if r.code != 0 {
		t.Fatalf("list: exit %d: %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") || !strings.HasPrefix(lines[1], hash1[:12]+" ") ||
		!strings.Contains(lines[1], "ci runner") || !strings.HasPrefix(lines[2], hash2[:12]+" ") {
		t.Fatalf("list table:\n%s", r.stdout)
	}
	if strings.Contains(r.stdout, hashBob[:12]) {
		t.Fatal("alice's list shows bob's key")
	}
	r = runCLI(t, env, "", "apikeys", "list", "--user", "alice", "--json")
	var lj struct {
		APIKeys []apiKeyJSON `json:"api_keys"`
		Total   int          `json:"total"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &lj); err != nil || lj.Total != 2 || lj.APIKeys[0].ID != hash1 ||
		lj.APIKeys[0].UserID != "alice" || lj.APIKeys[0].Label != "ci runner" || lj.APIKeys[1].ID != hash2 {
		t.Fatalf("list --json: %v: %s", err, r.stdout)
	}

	// Revoking another user's key as alice's answers like an absent key.
	r = runCLI(t, env, "", "apikeys", "revoke", hashBob, "--user", "alice")
	if r.code != 1 || !strings.Contains(oneErrorLine(t, r), "not found") {
		t.Fatalf("revoke bob's key as alice: exit %d, %q", r.code, r.stderr)
	}
	if kvData(t, admin, "apikeys/"+hashBob) == nil {
		t.Fatal("bob's key was revoked by a command scoped to alice")
	}

	// revoke by unique prefix.
	r = runCLI(t, env, "", "apikeys", "revoke", hash1[:12], "--user", "alice")
	if r.code != 0 {
		t.Fatalf("revoke by prefix: exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "BROKER_AUTH_CACHE_TTL") || r.stdout != "" {
		t.Fatalf("revoke output: stdout %q stderr %q", r.stdout, r.stderr)
	}
	if d := kvData(t, admin, "apikeys/"+hash1); d != nil {
		t.Fatalf("apikeys/%s still present after revoke: %v", hash1, d)
	}
	if d := kvData(t, admin, "users/alice/apikeys/"+hash1); d != nil {
		t.Fatalf("index entry still present after revoke: %v", d)
	}
	if _, err := broker.NewAuthenticator(vc, time.Nanosecond, nil).Authenticate(ctx, key1); !broker.IsCode(err, broker.CodeUnauthenticated) {
		t.Fatalf("Authenticate(revoked key) err = %v, want unauthenticated", err)
	}

	// Revoking it again: exit 1, one line.
	r = runCLI(t, env, "", "apikeys", "revoke", hash1[:12], "--user", "alice")
	if r.code != 1 || !strings.Contains(oneErrorLine(t, r), "no API key of user alice") {
		t.Fatalf("revoke again: exit %d, %q", r.code, r.stderr)
	}

	// revoke --key-stdin hashes the key read from stdin.
	r = runCLI(t, env, key2+"\n", "apikeys", "revoke", "--key-stdin", "--user", "alice")
	if r.code != 0 || strings.Contains(r.stderr, key2) {
		t.Fatalf("revoke --key-stdin: exit %d: %s", r.code, r.stderr)
	}
	if kvData(t, admin, "apikeys/"+hash2) != nil {
		t.Fatal("key revoked with --key-stdin still in Vault")
	}
	r = runCLI(t, env, "", "apikeys", "list", "--user", "alice")
	if r.code != 0 || strings.Count(r.stdout, "\n") != 1 {
		t.Fatalf("list after revokes: %q", r.stdout)
	}

	// revoke by full hash without --user.
	r = runCLI(t, env, "", "apikeys", "revoke", hashBob)
	if r.code != 0 || kvData(t, admin, "apikeys/"+hashBob) != nil {
		t.Fatalf("revoke by full hash: exit %d: %s", r.code, r.stderr)
	}
}

func TestAPIKeysVaultErrors(t *testing.T) {
	_, env := setupVault(t)

	// A token Vault rejects: exit 1, one line, token not shown.
	bad := map[string]string{"VAULT_ADDR": env["VAULT_ADDR"], "VAULT_TOKEN": "hvs.not-a-real-token-123"}
	r := runCLI(t, bad, "", "apikeys", "list", "--user", "alice")
	if r.code != 1 || strings.Contains(r.stderr, "not-a-real-token") {
		t.Fatalf("bad token: exit %d, stderr %q", r.code, r.stderr)
	}
	oneErrorLine(t, r)

	// A mount that does not exist: exit 1.
	env["BROKER_KV_MOUNT"] = "nosuchmount"
	r = runCLI(t, env, "", "apikeys", "create", "--user", "alice")
	if r.code != 1 || r.stdout != "" {
		t.Fatalf("missing mount: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if line := oneErrorLine(t, r); !strings.Contains(line, "BROKER_KV_MOUNT") {
		t.Fatalf("missing mount: error line %q gives no hint", line)
	}
}
