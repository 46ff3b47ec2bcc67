package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
)

// args returns the command line of the server process.
func (v *Vault) args() ([]string, error) {
	if !v.raft {
		return []string{"server", "-dev",
			fmt.Sprintf("-dev-listen-address=127.0.0.1:%d", v.port),
			"-dev-root-token-id=" + v.Token,
			"-dev-no-store-token",
		}, nil
	}
	cfg := filepath.Join(v.dir, "vault.hcl")
	if err := os.WriteFile(cfg, []byte(v.raftConfig(filepath.Join(v.dir, "raft"))), 0o600); err != nil {
		return nil, fmt.Errorf("write Vault config: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(v.dir, "raft"), 0o700); err != nil {
		return nil, fmt.Errorf("create Raft dir: %w", err)
	}
	return []string{"server", "-config=" + cfg}, nil
}

// raftConfig is a server with integrated storage and a plain-HTTP listener: a
// single node, or a cluster member joining the others (retry_join).
func (v *Vault) raftConfig(dataDir string) string {
	id := v.nodeID
	if id == "" {
		id = "testenv"
	}
	host := v.host
	if host == "" {
		host = "127.0.0.1"
	}
	joins := ""
	for _, a := range v.joins {
		joins += fmt.Sprintf("  retry_join {\n    leader_api_addr = %q\n  }\n", a)
	}
	return fmt.Sprintf(`storage "raft" {
  path    = %q
  node_id = %q
  performance_multiplier = 1
%s}
listener "tcp" {
  address         = "%[4]s:%[5]d"
  cluster_address = "%[4]s:%[6]d"
  tls_disable     = true
}
api_addr      = "http://%[4]s:%[5]d"
cluster_addr  = "http://%[4]s:%[6]d"
disable_mlock = true
ui            = false
`, dataDir, id, joins, host, v.port, v.clusterPort)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand.Read panics rather than error)
	return hex.EncodeToString(b)
}
