package testenv_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/acme/secretsbroker/internal/testenv"
)

// TestVaultCluster: three Raft nodes behind HAProxy; a write through the proxy
// survives the active node's death, a standby takes over, HAProxy follows it,
// and the killed node rejoins.
func TestVaultCluster(t *testing.T) {
	c := testenv.StartVaultCluster(t)
	if len(c.Nodes) != testenv.ClusterSize || c.Token == "" {
		t.Fatalf("cluster: %d nodes, token set %v", len(c.Nodes), c.Token != "")
	}
	proxy := &testenv.Vault{Addr: c.Addr, Token: c.Token}
	mustVault(t, proxy, http.StatusNoContent, http.MethodPost, "/v1/sys/mounts/kv", map[string]any{"type": "kv", "options": map[string]string{"version": "2"}})
	mustVault(t, proxy, http.StatusOK, http.MethodPut, "/v1/kv/data/harness", map[string]any{"data": map[string]any{"k": "v1"}})
	standbys := 0
	for _, n := range c.Nodes {
		if code, _, _ := vaultReq(t, n, http.MethodGet, "/v1/sys/health", nil); code == http.StatusTooManyRequests {
			standbys++
		}
	}
	if standbys != testenv.ClusterSize-1 {
		t.Fatalf("%d standbys, want %d", standbys, testenv.ClusterSize-1)
	}
	leader := c.Active(t)
	start := time.Now()
	c.Kill(t, leader)
	next, err := c.WaitActive(context.Background(), leader, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("node %d killed; node %d active behind HAProxy after %s", leader, next, time.Since(start).Round(time.Millisecond))
	if got, code := kvValue(t, proxy, "/v1/kv/data/harness"); got != "v1" {
		t.Fatalf("read through HAProxy after the failover: %q (status %d)", got, code)
	}
	c.Restart(t, leader)
	if code, _, _ := vaultReq(t, c.Nodes[leader], http.MethodGet, "/v1/sys/health", nil); code != http.StatusTooManyRequests {
		t.Fatalf("restarted node health %d, want 429 (standby)", code)
	}
}

// TestRedisSentinel: a master, two replicas, three sentinels; killing the master
// promotes a replica that takes writes.
func TestRedisSentinel(t *testing.T) {
	rs := testenv.StartRedisSentinel(t)
	old := rs.MasterNode(t)
	start := time.Now()
	old.Kill(t)
	addr, err := rs.WaitFailover(context.Background(), old.Addr, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("master %s killed; %s promoted after %s", old.Addr, addr, time.Since(start).Round(time.Millisecond))
	if n := rs.MasterNode(t); n.Addr != addr || n == old {
		t.Fatalf("MasterNode %s, want %s", n.Addr, addr)
	}
}

// TestVaultClusterNetns: the cluster with each node in its own network
// namespace; a standby cut off from the others leaves the active node (with
// the other standby, a quorum) serving writes; healed, it reports standby again.
func TestVaultClusterNetns(t *testing.T) {
	c := testenv.StartVaultClusterNetns(t)
	proxy := &testenv.Vault{Addr: c.Addr, Token: c.Token}
	mustVault(t, proxy, http.StatusNoContent, http.MethodPost, "/v1/sys/mounts/kv", map[string]any{"type": "kv", "options": map[string]string{"version": "2"}})
	sb := c.Standby(t)
	c.Partition(t, sb)
	if conn, err := net.DialTimeout("tcp", strings.TrimPrefix(c.Nodes[sb].Addr, "http://"), time.Second); err == nil {
		conn.Close()
		t.Fatal("a cut-off node still accepts connections")
	}
	mustVault(t, proxy, http.StatusOK, http.MethodPut, "/v1/kv/data/cut", map[string]any{"data": map[string]any{"k": "v1"}})
	c.Heal(t, sb)
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, _, err := vaultReq(t, c.Nodes[sb], http.MethodGet, "/v1/sys/health", nil)
		if err == nil && code == http.StatusTooManyRequests {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("healed node: health %d %v", code, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
