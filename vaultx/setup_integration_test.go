package vaultx

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/internal/testenv"
)

func TestSetupTwiceChangesNothingAndBrokerIsLeastPrivileged(t *testing.T) {
	v := testenv.StartVault(t)
	ctx := testCtx(t)
	dir := t.TempDir()
	o := SetupOptions{
		SecretIDFile:  filepath.Join(dir, "secret-id"),
		RoleIDFile:    filepath.Join(dir, "role-id"),
		AuditFilePath: filepath.Join(dir, "audit.log"),
	}
	admin := adminClient(t, v)
	first, err := Setup(ctx, admin, o)
	if err != nil {
		t.Fatalf("first Setup: %v", err)
	}
	t.Logf("first run: %d changes: %q", len(first.Changes), first.Changes)
	if len(first.Changes) < 8 || !first.SecretIDWritten || first.RoleID == "" {
		t.Fatalf("first run: %+v", first)
	}
	secretID1, _ := os.ReadFile(o.SecretIDFile)
	for _, f := range []string{o.SecretIDFile, o.RoleIDFile} {
		st, err := os.Stat(f)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: mode %v, %v", f, st.Mode(), err)
		}
	}

	second, err := Setup(ctx, admin, o)
	if err != nil {
		t.Fatalf("second Setup: %v", err)
	}
	if len(second.Changes) != 0 || second.SecretIDWritten || second.RoleID != first.RoleID {
		t.Fatalf("second run changed things: %+v", second)
	}
	if secretID2, _ := os.ReadFile(o.SecretIDFile); string(secretID2) != string(secretID1) {
		t.Fatal("second run replaced a valid secret_id")
	}

	// A drifted policy is put back, and only that is reported.
	if err := admin.Sys().PutPolicyWithContext(ctx, DefaultPolicyName, `path "sys/*" { capabilities = ["sudo","read"] }`); err != nil {
		t.Fatal(err)
	}
	third, err := Setup(ctx, admin, o)
	if err != nil || len(third.Changes) != 1 {
		t.Fatalf("third run: %+v, %v", third, err)
	}

	// The broker's own token: least privilege.
	c, err := New(ctx, Config{Addr: v.Addr, RoleIDFile: o.RoleIDFile, SecretIDFile: o.SecretIDFile}, testLogger(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer c.Close()
	for _, p := range []string{"sys/mounts", "sys/policies/acl/secrets-broker", "secret/data/anything", "broker/data/elsewhere/x", "transit/keys/broker-secrets", "auth/token/create"} {
		_, err := c.do(ctx, request{method: http.MethodGet, path: p})
		wantCode(t, mapErr(err, "probe", nil), broker.CodeForbidden)
	}
	if n, err := c.CountSecrets(ctx, "nobody"); err != nil || n != 0 {
		t.Fatalf("CountSecrets: %d, %v", n, err)
	}
}
