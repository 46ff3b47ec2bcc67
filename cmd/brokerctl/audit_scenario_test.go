package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/rs/zerolog"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/inproc"
	"github.com/acme/secretsbroker/internal/testenv"
	"github.com/acme/secretsbroker/vaultx"
)

// auditScenario is what the scripted scenario left behind.
type auditScenario struct {
	vault    *testenv.Vault
	logPath  string
	device   string
	user     string
	secretID string
	// used is the runtime whose token was unwrapped and replayed; unused
	// the runtime whose token was never unwrapped.
	used, unused broker.Runtime
	// revoked is the runtime deleted before its token was used (revoked).
	revoked broker.Runtime
	// accessor is the used bootstrap token's accessor (from its lookup).
	accessor string
	// requestIDs are the X-Request-Id values of the scenario's broker calls.
	requestIDs []string
	// start and end bound the scenario in time.
	start, end time.Time
}

// auditedBroker is a dev Vault configured as `brokerd setup` does, with a
// file audit device, and the broker's domain service over an
// AppRole-authenticated vaultx.Client.
type auditedBroker struct {
	vault   *testenv.Vault
	admin   *api.Client // root
	logPath string
	device  string
	svc     *broker.Service
	mem     *inproc.Store
}

func startAuditedBroker(t *testing.T) *auditedBroker {
	t.Helper()
	v := testenv.StartVault(t)
	dir := t.TempDir()
	ab := &auditedBroker{vault: v, logPath: filepath.Join(dir, "audit.log"), device: "broker-file"}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := vaultx.NewAPIClient(vaultx.Config{Addr: v.Addr, Token: v.Token}, vaultx.APIOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ab.admin = admin
	roleFile, secretFile := filepath.Join(dir, "role_id"), filepath.Join(dir, "secret_id")
	if _, err := vaultx.Setup(ctx, admin, vaultx.SetupOptions{
		AuditFilePath: ab.logPath, AuditDevice: ab.device, RoleIDFile: roleFile, SecretIDFile: secretFile,
	}); err != nil {
		t.Fatalf("vaultx.Setup: %v", err)
	}
	vc, err := vaultx.New(ctx, vaultx.Config{Addr: v.Addr, RoleIDFile: roleFile, SecretIDFile: secretFile}, zerolog.Nop())
	if err != nil {
		t.Fatalf("vaultx.New (AppRole): %v", err)
	}
	t.Cleanup(func() { _ = vc.Close() })
	ab.mem = inproc.New(time.Now, inproc.Options{})
	ab.svc = broker.NewService(broker.Config{SandboxVaultAddr: v.Addr},
		broker.Deps{Secrets: vc, Crypto: vc, Boot: vc, Records: ab.mem, Cache: ab.mem.ListCache()})
	return ab
}

// runAuditScenario starts Vault with a file audit device, configures it as
// `brokerd setup` does, and drives the broker's domain service over an
// AppRole-authenticated vaultx.Client: create, rotate, list, provision a
// runtime, unwrap its token with a token-less client (as sandbox-init does:
// lookup, then unwrap), replay the unwrap and the lookup (both fail), probe
// the KV mount without a token (denied), provision a second runtime whose
// token is never used and a third that is deleted (its token revoked), and
// delete the secret. Every broker call carries the user and a request id.
func runAuditScenario(t *testing.T) auditScenario {
	t.Helper()
	ab := startAuditedBroker(t)
	v, svc, mem := ab.vault, ab.svc, ab.mem
	sc := auditScenario{vault: v, logPath: ab.logPath, device: ab.device, user: "alice-audit", start: time.Now().UTC()}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	as := func(reqID string) context.Context {
		sc.requestIDs = append(sc.requestIDs, reqID)
		return broker.WithAudit(ctx, broker.Audit{UserID: sc.user, RequestID: reqID})
	}
	sec, err := svc.CreateSecret(as("req-create"), sc.user, broker.CreateSecretInput{Name: "OPENAI_API_KEY", Value: "sk-audit-one-0123456789abcdef"})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	sc.secretID = sec.ID
	if _, err := svc.UpdateSecret(as("req-rotate"), sc.user, sec.ID, "sk-audit-two-0123456789abcdef"); err != nil {
		t.Fatalf("rotate: %v", err)
	}
	if _, err := svc.ListSecrets(as("req-list"), sc.user); err != nil {
		t.Fatalf("list: %v", err)
	}
	if sc.used, err = svc.CreateRuntime(as("req-provision"), sc.user, broker.RuntimeInput{ProjectID: "proj", SecretIDs: []string{sec.ID}}); err != nil {
		t.Fatalf("provision: %v", err)
	}
	boot := sc.used.Sandbox.Bootstrap
	if boot == nil || boot.Token == "" {
		t.Fatal("provision returned no bootstrap token")
	}

	// The sandbox side: look up (unauthenticated), then unwrap with a client
	// that holds only the wrapping token; then the replay.
	sandbox := func(token string) *api.Client {
		c, err := vaultx.NewAPIClient(vaultx.Config{Addr: v.Addr, MaxRetries: -1}, vaultx.APIOptions{})
		if err != nil {
			t.Fatal(err)
		}
		c.SetToken(token)
		return c
	}
	info, err := sandbox("").Logical().WriteWithContext(ctx, "sys/wrapping/lookup", map[string]any{"token": boot.Token})
	if err != nil || info == nil {
		t.Fatalf("wrapping lookup: %v", err)
	}
	if got, _ := info.Data["creation_path"].(string); got != boot.CreationPath {
		t.Fatalf("creation path %q, want %q", got, boot.CreationPath)
	}
	if _, err := sandbox(boot.Token).Logical().UnwrapWithContext(ctx, ""); err != nil {
		t.Fatalf("unwrap: %v", err)
	}
	if _, err := sandbox(boot.Token).Logical().UnwrapWithContext(ctx, ""); err == nil {
		t.Fatal("replayed unwrap succeeded")
	}
	// A second sandbox-init run with the spent token is refused at lookup.
	if s, err := sandbox("").Logical().WriteWithContext(ctx, "sys/wrapping/lookup", map[string]any{"token": boot.Token}); err == nil && s != nil {
		t.Fatal("lookup of a spent token succeeded")
	}
	// A caller without a token probing the broker's mount is denied.
	if _, err := sandbox("").Logical().ReadWithContext(ctx, "broker/data/sandboxes/"+sc.used.Sandbox.ID); err == nil {
		t.Fatal("token-less read of the KV mount succeeded")
	}
	// The accessor, in clear, as an operator finds it in the broker's
	// records (Redis, or here the in-process store).
	sc.accessor = auditAccessorOf(t, mem, sc.user, sc.used.ID)

	if sc.unused, err = svc.CreateRuntime(as("req-provision-unused"), sc.user, broker.RuntimeInput{ProjectID: "proj", SecretIDs: []string{sec.ID}}); err != nil {
		t.Fatalf("provision (unused): %v", err)
	}
	sc.revoked, err = svc.CreateRuntime(as("req-provision-revoked"), sc.user, broker.RuntimeInput{ProjectID: "proj", SecretIDs: []string{sec.ID}})
	if err != nil {
		t.Fatalf("provision (revoked): %v", err)
	}
	if err := svc.DeleteRuntime(as("req-runtime-delete"), sc.user, sc.revoked.ID); err != nil {
		t.Fatalf("delete runtime: %v", err)
	}
	if err := svc.DeleteSecret(as("req-delete"), sc.user, sec.ID); err != nil {
		t.Fatalf("delete: %v", err)
	}
	sc.end = time.Now().UTC()
	auditWaitForLog(t, sc.logPath, "req-delete")
	return sc
}

// auditAccessorOf returns the wrapping accessor the broker recorded in the
// runtime's record for its sandbox.
func auditAccessorOf(t *testing.T, mem *inproc.Store, userID, runtimeID string) string {
	t.Helper()
	rt, err := mem.GetRuntime(context.Background(), userID, runtimeID)
	if err != nil || rt.Sandbox.Accessor == "" {
		t.Fatalf("no accessor recorded for runtime %s (err=%v)", runtimeID, err)
	}
	return rt.Sandbox.Accessor
}

// auditWaitForLog waits until the audit log mentions s (Vault writes it
// synchronously, but the file may be read before the last flush).
func auditWaitForLog(t *testing.T, path, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil && strings.Contains(string(b), s) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("audit log %s never mentioned %q (read error: %v)", path, s, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestAuditRecordScenario re-records auditlog/testdata/scenario.log when
// AUDIT_RECORD names the file to write (the auditlog unit tests pin ids from
// the recorded file: update them together).
func TestAuditRecordScenario(t *testing.T) {
	out := os.Getenv("AUDIT_RECORD")
	if out == "" {
		t.Skip("AUDIT_RECORD not set")
	}
	sc := runAuditScenario(t)
	b, err := os.ReadFile(sc.logPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, b, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Logf("secret %s, used sandbox %s, unused sandbox %s", sc.secretID, sc.used.Sandbox.ID, sc.unused.Sandbox.ID)
}
