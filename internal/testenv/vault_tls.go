package testenv

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// VaultTLS is a dev-mode Vault server that also serves its API on a TLS
// listener with a certificate the test supplies (for tests of CA
// verification). It stops when the test ends.
type VaultTLS struct {
	Addr      string // https://127.0.0.1:port, the TLS listener
	PlainAddr string // http://127.0.0.1:port, the dev listener
	Token     string // root token
	logPath   string
}

// LogPath is the file holding the server's output.
func (v *VaultTLS) LogPath() string { return v.logPath }

// StartVaultTLS starts a dev-mode Vault with an extra TLS listener serving
// certFile and keyFile (PEM), and waits until it is unsealed and active.
func StartVaultTLS(t testing.TB, certFile, keyFile string) *VaultTLS {
	t.Helper()
	bin, err := findVault(t)
	if err != nil {
		unavailable(t, "no Vault server binary for a TLS listener: %v", err)
		return nil
	}
	dir := t.TempDir()
	v := &VaultTLS{Token: "root-" + randomHex(12), logPath: filepath.Join(dir, "vault.log")}
	var ports [4]int
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			t.Fatalf("testenv: %v", err)
		}
	}
	devPort, tlsPort, tlsCluster := ports[0], ports[1], ports[2]
	if tlsPort == devPort+1 { // the dev listener's cluster port is its port + 1
		tlsPort = ports[3]
	}
	cfg := fmt.Sprintf(`listener "tcp" {
  address         = "127.0.0.1:%d"
  cluster_address = "127.0.0.1:%d"
  tls_cert_file   = %q
  tls_key_file    = %q
}
`, tlsPort, tlsCluster, certFile, keyFile)
	cfgPath := filepath.Join(dir, "tls.hcl")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatalf("testenv: write Vault TLS config: %v", err)
	}
	args := []string{"server", "-dev", fmt.Sprintf("-dev-listen-address=127.0.0.1:%d", devPort),
		"-dev-root-token-id=" + v.Token, "-dev-no-store-token", "-config=" + cfgPath}
	p, err := startProc(bin, args, []string{"HOME=" + dir}, dir, v.logPath)
	if err != nil {
		t.Fatalf("testenv: start Vault (TLS): %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("testenv: Vault (TLS) log tail (%s):\n%s", v.logPath, logTail(v.logPath))
		}
		p.stop()
	})
	v.PlainAddr = fmt.Sprintf("http://127.0.0.1:%d", devPort)
	v.Addr = fmt.Sprintf("https://127.0.0.1:%d", tlsPort)
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	hc := &http.Client{Timeout: 5 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, v.PlainAddr+"/v1/sys/health", nil)
		if res, err := hc.Do(req); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if p.exited() {
			t.Fatalf("testenv: Vault (TLS) exited while starting:\n%s", logTail(v.logPath))
		}
		select {
		case <-ctx.Done():
			t.Fatalf("testenv: Vault (TLS) not ready within %s:\n%s", readyTimeout, logTail(v.logPath))
		case <-time.After(pollInterval):
		}
	}
	report("vault", "dev+tls "+bin)
	return v
}
