package testenv

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// VaultCluster is a Vault cluster with integrated (Raft) storage: three nodes on
// loopback that join each other with retry_join, initialised and unsealed by the
// harness, and HAProxy in front of them health-checking /v1/sys/health so that only
// the active node gets traffic (the standard deployment). Addr is HAProxy's address,
// what a broker's VAULT_ADDR points at.
type VaultCluster struct {
	Addr       string   // HAProxy: http://127.0.0.1:port, always the active node
	Token      string   // root token
	UnsealKeys []string // one key (threshold 1)
	Nodes      []*Vault // the nodes; Nodes[i].Addr reaches node i directly
	Proxy      *HAProxy
	lab        *netLab // with StartVaultClusterNetns
}

// ClusterSize is the number of nodes StartVaultCluster starts.
const ClusterSize = 3

// StartVaultCluster starts a 3-node Raft cluster and HAProxy in front of it, and stops
// them when the test ends. Node 0 is initialised and becomes the first leader; the
// others join it and are unsealed as standbys.
func StartVaultCluster(t testing.TB) *VaultCluster {
	t.Helper()
	return startVaultCluster(t, false)
}

// StartVaultClusterNetns is StartVaultCluster with each node in a network
// namespace of its own, on a bridge, so that Partition can cut one off from the
// others and from HAProxy. It needs root: elsewhere the test is skipped (also
// with BROKER_REQUIRE_INTEGRATION=1: it is the machine that cannot, not a
// missing binary).
func StartVaultClusterNetns(t testing.TB) *VaultCluster {
	t.Helper()
	return startVaultCluster(t, true)
}

func startVaultCluster(t tb, netns bool) *VaultCluster {
	t.Helper()
	bin, err := findVault(t)
	if err != nil {
		unavailable(t, "no Vault server binary for a cluster (%v)", err)
		return nil
	}
	hap, err := findHAProxy()
	if err != nil {
		unavailable(t, "%v", err)
		return nil
	}
	start := time.Now()
	c := &VaultCluster{}
	if netns {
		if err := netnsAvailable(); err != nil {
			// A capability of the machine, not missing software: a skip even
			// with BROKER_REQUIRE_INTEGRATION=1.
			report("skip", err.Error())
			t.Skipf("testenv: %v; skipping", err)
			return nil
		}
		if c.lab, err = newNetLab(ClusterSize); err != nil {
			t.Fatalf("testenv: network namespaces: %v", err)
		}
		t.Cleanup(c.lab.close) // runs after the nodes have stopped
	}
	root := t.TempDir()
	for i := range ClusterSize {
		v := &Vault{raft: true, bin: bin, dir: filepath.Join(root, fmt.Sprintf("node%d", i)),
			client: &http.Client{Timeout: 5 * time.Second}, nodeID: fmt.Sprintf("node%d", i)}
		if c.lab != nil {
			v.netns, v.host = c.lab.nodes[i].ns, c.lab.nodes[i].ip
		}
		if err := os.MkdirAll(v.dir, 0o700); err != nil {
			t.Fatalf("testenv: %v", err)
		}
		v.logPath = filepath.Join(v.dir, "vault.log")
		if err := v.pickPorts(); err != nil {
			t.Fatalf("testenv: %v", err)
		}
		c.Nodes = append(c.Nodes, v)
	}
	for _, v := range c.Nodes {
		for _, o := range c.Nodes {
			if o != v {
				v.joins = append(v.joins, o.Addr)
			}
		}
		t.Cleanup(func() { v.cleanup(t) })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*readyTimeout)
	defer cancel()
	if err := c.boot(ctx); err != nil {
		t.Fatalf("testenv: start Vault cluster: %v\n%s", err, c.tails())
	}
	c.Proxy, err = startHAProxy(t, hap, "vault", c.nodeAddrs(), "/v1/sys/health")
	if err != nil {
		t.Fatalf("testenv: start HAProxy: %v", err)
	}
	c.Addr = c.Proxy.Addr
	if err := c.waitProxy(ctx); err != nil {
		t.Fatalf("testenv: %v\n--- %s (tail) ---\n%s", err, c.Proxy.logPath, logTail(c.Proxy.logPath))
	}
	t.Logf("testenv: Vault cluster (%d nodes, raft) behind HAProxy at %s in %s", len(c.Nodes), c.Addr, time.Since(start).Round(time.Millisecond))
	report("vault", "raft-cluster+haproxy "+bin)
	return c
}

func (c *VaultCluster) nodeAddrs() []string {
	out := make([]string, len(c.Nodes))
	for i, v := range c.Nodes {
		out[i] = strings.TrimPrefix(v.Addr, "http://")
	}
	return out
}

// boot starts node 0, initialises and unseals it, then starts and unseals the others.
func (c *VaultCluster) boot(ctx context.Context) error {
	first := c.Nodes[0]
	if err := first.launch(ctx); err != nil {
		return err
	}
	if err := first.waitHealth(ctx, 0); err != nil {
		return err
	}
	if err := first.initialize(ctx); err != nil {
		return err
	}
	if err := first.unseal(ctx); err != nil {
		return err
	}
	c.Token, c.UnsealKeys = first.Token, first.UnsealKeys
	// Autopilot promotes a joined node to voter once it has been healthy this long
	// (default 10 s): a short time keeps the harness quick.
	if _, err := first.call(ctx, http.MethodPost, "/v1/sys/storage/raft/autopilot/configuration",
		map[string]any{"server_stabilization_time": "1s"}, nil); err != nil {
		return fmt.Errorf("autopilot configuration: %w", err)
	}
	for _, v := range c.Nodes[1:] {
		v.Token, v.UnsealKeys = c.Token, c.UnsealKeys
		if err := v.launch(ctx); err != nil {
			return err
		}
	}
	for _, v := range c.Nodes[1:] {
		if err := v.unsealMember(ctx); err != nil {
			return fmt.Errorf("%s: %w", v.nodeID, err)
		}
	}
	return c.waitPeers(ctx, len(c.Nodes))
}

// unsealMember unseals a node that joins (or rejoins) the cluster: its unseal
// is retried until the join is under way, then it must report active or standby.
func (v *Vault) unsealMember(ctx context.Context) error {
	last := "no answer yet"
	for {
		var out struct {
			Sealed bool `json:"sealed"`
		}
		_, err := v.call(ctx, http.MethodPut, "/v1/sys/unseal", map[string]string{"key": v.UnsealKeys[0]}, &out)
		if err == nil && !out.Sealed {
			break
		}
		if err != nil {
			last = err.Error()
		} else {
			last = "still sealed"
		}
		if v.exited() {
			return fmt.Errorf("%w (%s)", errExited, last)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not unsealed in time: %s", last)
		case <-time.After(200 * time.Millisecond):
		}
	}
	return v.waitMember(ctx)
}

// waitMember polls the node's health until it is active (200) or a standby (429).
func (v *Vault) waitMember(ctx context.Context) error {
	last := "no answer yet"
	for {
		code, err := v.healthCode(ctx)
		if err == nil && (code == http.StatusOK || code == http.StatusTooManyRequests) {
			return nil
		}
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("health status %d", code)
		}
		if v.exited() {
			return fmt.Errorf("%w (%s)", errExited, last)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not active or standby in time: %s", v.Addr, last)
		case <-time.After(pollInterval):
		}
	}
}

// waitPeers waits until the leader's Raft configuration lists n voters.
func (c *VaultCluster) waitPeers(ctx context.Context, n int) error {
	last := "no answer yet"
	for {
		if i, err := c.active(ctx); err == nil {
			var out struct {
				Data struct {
					Config struct {
						Servers []struct {
							NodeID string `json:"node_id"`
							Voter  bool   `json:"voter"`
						} `json:"servers"`
					} `json:"config"`
				} `json:"data"`
			}
			_, err := c.Nodes[i].call(ctx, http.MethodGet, "/v1/sys/storage/raft/configuration", nil, &out)
			voters := 0
			for _, s := range out.Data.Config.Servers {
				if s.Voter {
					voters++
				}
			}
			if err == nil && voters >= n {
				return nil
			}
			last = fmt.Sprintf("%d voters (%v)", voters, err)
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("raft cluster did not reach %d voters: %s", n, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// active returns the index of the node that answers health 200 (active).
func (c *VaultCluster) active(ctx context.Context) (int, error) {
	for i, v := range c.Nodes {
		if v.exited() {
			continue
		}
		hctx, cancel := context.WithTimeout(ctx, time.Second)
		code, err := v.healthCode(hctx)
		cancel()
		if err == nil && code == http.StatusOK {
			return i, nil
		}
	}
	return -1, errors.New("no active node")
}

// Active returns the index of the active node, waiting up to a minute for one.
func (c *VaultCluster) Active(t testing.TB) int {
	t.Helper()
	i, err := c.WaitActive(context.Background(), -1, readyTimeout)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return i
}

// WaitActive polls until a node other than not (-1: any) is active and HAProxy
// routes to it, and returns its index. Errors: none active within d.
func (c *VaultCluster) WaitActive(ctx context.Context, not int, d time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		if i, err := c.active(ctx); err == nil && i != not {
			if code, err := c.proxyHealth(ctx); err == nil && code == http.StatusOK {
				return i, nil
			}
		}
		select {
		case <-ctx.Done():
			return -1, fmt.Errorf("no new active node behind HAProxy within %s", d)
		case <-time.After(pollInterval):
		}
	}
}

func (c *VaultCluster) proxyHealth(ctx context.Context) (int, error) {
	hctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	p := &Vault{Addr: c.Addr, client: c.Nodes[0].client}
	return p.healthCode(hctx)
}

// waitProxy waits until HAProxy routes to the active node only. HAProxy
// starts with every server up until its checks say otherwise, and
// balances round-robin meanwhile: a request can reach a standby, which
// forwards it to the active node, and then lose its answer when the standby
// is marked down and its sessions are shut (a test's first mount answered
// EOF after it was applied). So the proxy is ready only after
// proxyReadyStreak health checks in a row answered 200, which round-robin
// over standbys still up cannot give.
func (c *VaultCluster) waitProxy(ctx context.Context) error {
	streak := 0
	for {
		if code, err := c.proxyHealth(ctx); err == nil && code == http.StatusOK {
			if streak++; streak >= proxyReadyStreak {
				return nil
			}
		} else {
			streak = 0
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("HAProxy at %s never routed to the active node", c.Addr)
		case <-time.After(pollInterval):
		}
	}
}

// proxyReadyStreak is how many health checks through HAProxy in a row must
// answer 200 (more than the cluster's nodes, so that each server still in
// the rotation is asked at least once).
const proxyReadyStreak = 6

// Kill sends SIGKILL to node i and waits until it is gone.
func (c *VaultCluster) Kill(t testing.TB, i int) {
	t.Helper()
	v := c.Nodes[i]
	if v.p == nil || v.p.exited() {
		t.Fatalf("testenv: VaultCluster.Kill: node %d is not running", i)
	}
	_ = v.p.cmd.Process.Kill()
	<-v.p.done
}

// Freeze stops node i with SIGSTOP (it keeps its sockets but answers nothing);
// Thaw resumes it with SIGCONT.
func (c *VaultCluster) Freeze(t testing.TB, i int) { c.signal(t, i, syscall.SIGSTOP) }

// Thaw resumes a node stopped by Freeze.
func (c *VaultCluster) Thaw(t testing.TB, i int) { c.signal(t, i, syscall.SIGCONT) }

func (c *VaultCluster) signal(t testing.TB, i int, sig syscall.Signal) {
	t.Helper()
	v := c.Nodes[i]
	if v.p == nil || v.p.exited() {
		t.Fatalf("testenv: VaultCluster: node %d is not running", i)
	}
	if err := v.p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("testenv: signal node %d: %v", i, err)
	}
}

// Restart starts a stopped or killed node again on its address with its data,
// unseals it and waits until it is back in the cluster (active or standby).
func (c *VaultCluster) Restart(t testing.TB, i int) {
	t.Helper()
	v := c.Nodes[i]
	if v.running() {
		t.Fatalf("testenv: VaultCluster.Restart: node %d is running", i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	if err := v.launch(ctx); err != nil {
		t.Fatalf("testenv: restart node %d: %v", i, err)
	}
	if err := v.unsealMember(ctx); err != nil {
		t.Fatalf("testenv: restart node %d: %v\n--- %s (tail) ---\n%s", i, err, v.logPath, logTail(v.logPath))
	}
}

func (c *VaultCluster) tails() string {
	var b strings.Builder
	for _, v := range c.Nodes {
		fmt.Fprintf(&b, "--- %s (tail) ---\n%s\n", v.logPath, logTail(v.logPath))
	}
	return b.String()
}

// Partition cuts node i off from the other nodes and from HAProxy (its link
// goes down); the node keeps running. Only with StartVaultClusterNetns.
func (c *VaultCluster) Partition(t testing.TB, i int) {
	t.Helper()
	if c.lab == nil {
		t.Fatalf("testenv: Partition needs StartVaultClusterNetns")
	}
	if err := c.lab.cut(i); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

// Heal reconnects a node cut off by Partition.
func (c *VaultCluster) Heal(t testing.TB, i int) {
	t.Helper()
	if err := c.lab.heal(i); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

// Standby returns the index of a running standby node.
func (c *VaultCluster) Standby(t testing.TB) int {
	t.Helper()
	for i, v := range c.Nodes {
		if v.exited() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		code, err := v.healthCode(ctx)
		cancel()
		if err == nil && code == http.StatusTooManyRequests {
			return i
		}
	}
	t.Fatalf("testenv: no standby node")
	return -1
}
