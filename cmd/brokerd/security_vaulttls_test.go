package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acme/secretsbroker/internal/testenv"
)

// writeFile writes b to dir/name (mode 0600) and returns the path.
func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// serveOutcome runs `brokerd serve` for at most 20s: it reports the error
// if serve exits, or the URL once it listens (stopping it when the test ends).
func serveOutcome(t *testing.T, env map[string]string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &testenv.SyncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, mapEnv(env), logs, logs) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			done <- err // for the cleanup
			return "", err
		default:
		}
		if u, _ := testenv.ListenURLs(logs.String()); u != "" {
			return u, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("brokerd serve neither listened nor exited within 20s:\n%s", logs.String())
	return "", nil
}

// TestSecurityVaultTLS: brokerd talks to a Vault TLS listener whose
// certificate a test CA signed. With VAULT_CACERT naming that CA, setup and
// serve work end to end; with another CA, or with the system roots, they fail
// closed: setup errors, serve refuses to start or answers /readyz 503 and
// never serves a secret.
func TestSecurityVaultTLS(t *testing.T) {
	dir := t.TempDir()
	ca := testenv.NewCA(t, "broker test CA")
	certPEM, keyPEM := ca.LeafPEM(t, "127.0.0.1", "localhost")
	certFile, keyFile := writeFile(t, dir, "vault.pem", certPEM), writeFile(t, dir, "vault-key.pem", keyPEM)
	caFile := writeFile(t, dir, "ca.pem", ca.CertPEM)
	wrongCA := writeFile(t, dir, "wrong-ca.pem", testenv.NewCA(t, "some other CA").CertPEM)
	v := testenv.StartVaultTLS(t, certFile, keyFile)

	role, secret := filepath.Join(dir, "role_id"), filepath.Join(dir, "secret_id")
	setupEnv := func(cacert string) map[string]string {
		return map[string]string{"VAULT_ADDR": v.Addr, "VAULT_TOKEN": v.Token, "VAULT_CACERT": cacert,
			"BROKER_VAULT_ROLE_ID_FILE": role, "BROKER_VAULT_SECRET_ID_FILE": secret}
	}
	for name, cacert := range map[string]string{"wrong CA": wrongCA, "system roots": ""} {
		var out, errb testenv.SyncBuffer
		err := run(context.Background(), []string{"setup"}, mapEnv(setupEnv(cacert)), &out, &errb)
		if err == nil {
			t.Errorf("setup over TLS with %s succeeded, want a certificate failure", name)
		}
		if _, serr := os.Stat(role); serr == nil {
			t.Errorf("setup with %s wrote a role_id", name)
		}
	}
	var out, errb testenv.SyncBuffer
	if err := run(context.Background(), []string{"setup"}, mapEnv(setupEnv(caFile)), &out, &errb); err != nil {
		t.Fatalf("setup over TLS with the right CA: %v\n%s", err, errb.String())
	}

	// The right CA: the whole path works over TLS.
	tlsVault := &testenv.Vault{Addr: v.Addr, Token: v.Token}
	b := startBroker(t, configured{vault: tlsVault, roleIDFile: role, secretIDFile: secret}, map[string]string{"VAULT_CACERT": caFile})
	key := newAPIKey(t, &testenv.Vault{Addr: v.PlainAddr, Token: v.Token}, "tls-user")
	planted.add("api key", key)
	c := newClient(t, b.URL, key)
	if r := c.do("GET", "/readyz", nil); r.Status != 200 {
		t.Fatalf("readyz with the right CA: %d %s", r.Status, r.Body)
	}
	r := c.do("POST", "/api/v1/user/secrets", map[string]any{"name": "TLS_SECRET", "value": value("sk-tls")})
	if r.Status != 201 {
		t.Fatalf("create over TLS: %d %s", r.Status, r.Body)
	}
	var sec struct {
		ID string `json:"id"`
	}
	r.JSON(t, &sec)
	r = c.do("POST", "/api/v1/runtimes", map[string]any{"project_id": "tls", "secret_ids": []string{sec.ID}})
	if r.Status != 201 || !strings.Contains(string(r.Body), v.Addr) {
		t.Errorf("provision over TLS: %d %s (want the https Vault address in the bootstrap)", r.Status, r.Body)
	}

	// Another CA, or none: fail closed.
	for name, cacert := range map[string]string{"wrong CA": wrongCA, "system roots": ""} {
		env := map[string]string{"VAULT_ADDR": v.Addr, "VAULT_CACERT": cacert, "BROKER_VAULT_ROLE_ID_FILE": role,
			"BROKER_VAULT_SECRET_ID_FILE": secret, "BROKER_LISTEN_ADDR": "127.0.0.1:0", "BROKER_LOG_LEVEL": "debug"}
		u, err := serveOutcome(t, env)
		if err != nil {
			t.Logf("serve with %s refused to start: %v", name, err)
			continue
		}
		cc := newClient(t, u, key)
		if r := cc.do("GET", "/readyz", nil); r.Status != 503 {
			t.Errorf("serve with %s: readyz %d %s, want 503", name, r.Status, r.Body)
		}
		if r := cc.do("GET", "/api/v1/user/secrets/"+sec.ID, nil); r.Status/100 == 2 {
			t.Errorf("serve with %s answered a secret: %d", name, r.Status)
		}
	}
}
