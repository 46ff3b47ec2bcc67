//go:build reliability

package reliability

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acme/secretsbroker/internal/testenv"
)

// clusterStack is the scale-out world: a 3-node Vault Raft cluster behind
// HAProxy (what every broker's VAULT_ADDR points at), Redis with Sentinel
// (master, two replicas, three sentinels), and three brokerd replicas.
type clusterStack struct {
	*stack
	cluster  *testenv.VaultCluster
	sentinel *testenv.RedisSentinel
	api      *api

	errorsLogged bool
}

// logErrors logs every broker's error lines (the cause behind a 500's
// request id), once.
func (cs *clusterStack) logErrors(t *testing.T) {
	t.Helper()
	if cs.errorsLogged {
		return
	}
	cs.errorsLogged = true
	for i, b := range cs.brokers {
		for _, line := range strings.Split(b.logs(), "\n") {
			if strings.Contains(line, `"level":"error"`) {
				t.Logf("brokerd %d: %s", i, line)
			}
		}
	}
}

func newClusterStack(t *testing.T, replicas int) *clusterStack {
	t.Helper()
	return newClusterStackOn(t, replicas, testenv.StartVaultCluster)
}

func newClusterStackOn(t *testing.T, replicas int, start func(testing.TB) *testenv.VaultCluster) *clusterStack {
	t.Helper()
	cs := &clusterStack{stack: &stack{t: t, dir: t.TempDir()}}
	s := cs.stack
	cs.cluster = start(t)
	cs.sentinel = testenv.StartRedisSentinel(t)
	// The stack's own helpers (users, rootClient, verifyAcked) reach Vault
	// through HAProxy with the root token.
	s.vault = &testenv.Vault{Addr: cs.cluster.Addr, Token: cs.cluster.Token}
	s.redis = cs.sentinel.Nodes[0]
	s.roleIDFile = filepath.Join(s.dir, "role_id")
	s.secretIDFile = filepath.Join(s.dir, "secret_id")
	s.auditFile = filepath.Join(s.dir, "vault-audit.log")
	cmd := exec.Command(brokerdBin, "setup", "--role-id-file", s.roleIDFile, "--secret-id-file", s.secretIDFile,
		"--audit-file", s.auditFile)
	cmd.Env = []string{"VAULT_ADDR=" + s.vault.Addr, "VAULT_TOKEN=" + s.vault.Token, "PATH=" + os.Getenv("PATH")}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("brokerd setup: %v\n%s", err, out)
	}
	t.Cleanup(s.checkLeaks)
	var bases []func() string
	for range replicas {
		b := s.startBroker(map[string]string{
			"REDIS_URL":            "",
			"REDIS_SENTINEL_ADDRS": strings.Join(cs.sentinel.SentinelAddrs, ","),
			"REDIS_MASTER_NAME":    cs.sentinel.MasterName,
		})
		bases = append(bases, func() string { return b.URL })
	}
	cs.api = newReplicasAPI(bases, reqTimeout+latencyMargin+5*time.Second, 64)
	return cs
}

// window describes when the failures of rs fell, relative to t0.
func window(rs []result, t0 time.Time) string {
	f := failures(rs)
	if len(f) == 0 {
		return "no errors"
	}
	first, last := f[0].Start, f[0].End
	for _, x := range f {
		first = minTime(first, x.Start)
		last = maxTime(last, x.End)
	}
	return fmt.Sprintf("%d errors in [+%s, +%s]", len(f), first.Sub(t0).Round(time.Millisecond), last.Sub(t0).Round(time.Millisecond))
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// bootstraps provisions n runtimes for u and returns their bootstrap tokens.
func bootstraps(t *testing.T, a *api, u user, n int) []string {
	t.Helper()
	res := a.do(u.Key, "POST", "/api/v1/user/secrets", map[string]any{"name": "BOOT_" + strings.ToUpper(randHex(3)), "value": newValue()})
	var sec secretJSON
	if res.Status != 201 || res.decode(&sec) != nil {
		t.Fatalf("create: %s", res)
	}
	var out []string
	for range n {
		r := a.do(u.Key, "POST", "/api/v1/runtimes", map[string]any{"project_id": "boot", "secret_ids": []string{sec.ID}})
		var rt struct {
			Sandbox struct {
				Bootstrap struct {
					Token string `json:"token"`
				} `json:"bootstrap"`
			} `json:"sandbox"`
		}
		if r.Status != 201 || r.decode(&rt) != nil {
			t.Fatalf("provision: %s", r)
		}
		planted.add(rt.Sandbox.Bootstrap.Token)
		out = append(out, rt.Sandbox.Bootstrap.Token)
	}
	return out
}

// unwrapAll unwraps each token at vaultAddr; it returns how many worked.
func unwrapAll(t *testing.T, vaultAddr string, tokens []string) int {
	t.Helper()
	ok := 0
	for _, tok := range tokens {
		if err := unwrapOnce(vaultAddr, tok); err != nil {
			t.Errorf("bootstrap token issued before the fault does not unwrap: %v", err)
			continue
		}
		ok++
	}
	return ok
}

// TestClusterLeaderKilled: the active Vault node SIGKILLed under mixed load
// through three brokerd replicas. A standby takes over; any error falls in
// the election window and is the 503 envelope; every acknowledged write
// reads back; bootstrap tokens issued before the fault still unwrap.
func TestClusterLeaderKilled(t *testing.T) {
	r := &row{Scenario: "vault active node SIGKILLed (3-node raft, 3 brokers)"}
	report(t, r)
	cs := newClusterStack(t, 3)
	users := cs.users("lk", 9)
	tokens := bootstraps(t, cs.api, cs.users("lkboot", 1)[0], 5)
	ld := newLoad(cs.api, users, faultMix, 20*time.Millisecond)
	ld.start()
	time.Sleep(3 * time.Second)
	leader := cs.cluster.Active(t)
	killed := time.Now()
	cs.cluster.Kill(t, leader)
	next, err := cs.cluster.WaitActive(context.Background(), leader, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	election := time.Since(killed)
	r.Recovery = election
	time.Sleep(5 * time.Second)
	ld.stop()

	all := ld.snapshot()
	st := summarize(all)
	r.Requests, r.MaxLatency = st.n, st.maxLatency
	checkLatency(t, all)
	fails := failures(all)
	r.FaultErrors = len(fails)
	for _, x := range fails {
		if x.End.Before(killed) || x.Start.After(killed.Add(election+reqTimeout)) {
			t.Errorf("%s failed outside the election window (+%s): %s", x.Op, x.Start.Sub(killed).Round(time.Millisecond), x.A)
		}
		if x.A.Err != nil || x.A.Status != 503 {
			t.Errorf("%s answered %s, want success or the 503 envelope", x.Op, x.A)
			cs.logErrors(t)
		}
	}
	acks := ld.ackList()
	r.Lost = verifyAcked(t, cs.api, cs.cluster.Addr, acks)
	unwrapped := unwrapAll(t, cs.cluster.Addr, tokens)
	r.Note = fmt.Sprintf("node %d killed, node %d active after %s (election window); %s; %d writes acked, %d read back; %d/%d earlier bootstraps unwrap; %s",
		leader, next, election.Round(time.Millisecond), window(all, killed), len(acks), len(acks)-r.Lost, unwrapped, len(tokens), st)
	t.Log(r.Note)
}

// TestClusterLeaderFrozen: the active node SIGSTOPped for 20 s, then
// SIGCONT. HAProxy's health check takes it out, a standby is elected; no
// request hangs past the request timeout; acknowledged writes read back; the
// frozen node rejoins as a standby.
func TestClusterLeaderFrozen(t *testing.T) {
	r := &row{Scenario: "vault active node SIGSTOP 20 s, SIGCONT"}
	report(t, r)
	cs := newClusterStack(t, 3)
	users := cs.users("fz", 9)
	ld := newLoad(cs.api, users, faultMix, 20*time.Millisecond)
	ld.start()
	time.Sleep(3 * time.Second)
	leader := cs.cluster.Active(t)
	frozen := time.Now()
	cs.cluster.Freeze(t, leader)
	next, err := cs.cluster.WaitActive(context.Background(), leader, time.Minute)
	if err != nil {
		cs.cluster.Thaw(t, leader)
		t.Fatal(err)
	}
	election := time.Since(frozen)
	time.Sleep(20*time.Second - time.Since(frozen))
	cs.cluster.Thaw(t, leader)
	thawed := time.Now()
	time.Sleep(4 * time.Second)
	ld.stop()

	all := ld.snapshot()
	st := summarize(all)
	r.Requests, r.MaxLatency = st.n, st.maxLatency
	r.Recovery = election
	checkLatency(t, all)
	fails := failures(all)
	r.FaultErrors = len(fails)
	for _, x := range fails {
		if x.A.Err != nil || x.A.Status != 503 {
			t.Errorf("%s answered %s, want success or the 503 envelope", x.Op, x.A)
			cs.logErrors(t)
		}
	}
	for _, x := range failures(between(all, frozen.Add(election+reqTimeout), thawed)) {
		t.Errorf("%s failed at +%s, after the new leader took over: %s", x.Op, x.Start.Sub(frozen).Round(time.Millisecond), x.A)
	}
	acks := ld.ackList()
	r.Lost = verifyAcked(t, cs.api, cs.cluster.Addr, acks)
	code, _ := nodeHealth(cs.cluster.Nodes[leader].Addr)
	r.Note = fmt.Sprintf("node %d frozen, node %d active after %s; %s; %d writes acked, %d read back; thawed node health %d; %s",
		leader, next, election.Round(time.Millisecond), window(all, frozen), len(acks), len(acks)-r.Lost, code, st)
	t.Log(r.Note)
}

// TestRedisMasterKilledSentinel: the Redis master SIGKILLed under load
// (three brokers through Sentinel). Sentinel promotes a replica; provisioning
// never stops (its records are in Vault); rate limits and idempotency work
// again after the failover.
func TestRedisMasterKilledSentinel(t *testing.T) {
	r := &row{Scenario: "redis master SIGKILLed (sentinel, 3 brokers)"}
	report(t, r)
	cs := newClusterStack(t, 2)
	b := cs.startBroker(map[string]string{
		"REDIS_URL": "", "REDIS_SENTINEL_ADDRS": strings.Join(cs.sentinel.SentinelAddrs, ","), "REDIS_MASTER_NAME": cs.sentinel.MasterName,
		"BROKER_RATE_PER_MINUTE": "1200", "BROKER_RATE_BURST": "40",
	})
	limited := newAPI(func() string { return b.URL }, reqTimeout+latencyMargin+5*time.Second, 8)
	users := cs.users("rm", 6)
	extra := cs.users("rmx", 2)
	limitUser, idemUser := extra[0], extra[1]
	if n := hammer(limited, limitUser.Key, 80); n == 0 {
		t.Errorf("before the fault: 80 quick requests over a burst of 40 were never limited")
	}
	ld := newLoad(cs.api, users, mix{Get: 2, Create: 2, Provision: 4}, 20*time.Millisecond)
	ld.start()
	time.Sleep(3 * time.Second)
	master := cs.sentinel.MasterNode(t)
	killed := time.Now()
	master.Kill(t)
	addr, err := cs.sentinel.WaitFailover(context.Background(), master.Addr, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	promoted := time.Since(killed)
	for _, n := range cs.sentinel.Nodes {
		if n.Addr == addr {
			cs.redis = n // for the leak scan at cleanup
		}
	}
	r.Recovery = waitUntil(t, 30*time.Second, "idempotency after the failover", func() bool {
		first, again := idempotentCreate(limited, idemUser.Key, "IDEM_"+strings.ToUpper(randHex(3)))
		return first.Status == 201 && again.Header.Get("Idempotent-Replayed") == "true"
	}) + promoted
	time.Sleep(2 * time.Second)
	ld.stop()
	if n := hammer(limited, limitUser.Key, 80); n == 0 {
		t.Errorf("after the failover: the rate limit did not come back")
	}

	all := ld.snapshot()
	st := summarize(all)
	r.Requests, r.MaxLatency = st.n, st.maxLatency
	checkLatency(t, all)
	r.FaultErrors = len(failures(all))
	provisions := 0
	for _, x := range all {
		if x.Op == "provision" || x.Op == "deprovision" {
			provisions++
		}
	}
	for _, x := range failures(all) {
		t.Errorf("%s at +%s answered %s: without Idempotency-Key nothing may fail while Redis fails over", x.Op, x.Start.Sub(killed).Round(time.Millisecond), x.A)
	}
	acks := ld.ackList()
	r.Lost = verifyAcked(t, cs.api, cs.cluster.Addr, acks)
	r.Note = fmt.Sprintf("replica %s promoted after %s; idempotency and limits back %s after the kill; %d provisioning requests, %s; %d writes acked, %d read back; %s",
		addr, promoted.Round(time.Millisecond), r.Recovery.Round(time.Millisecond), provisions, window(all, killed), len(acks), len(acks)-r.Lost, st)
	t.Log(r.Note)
}

// TestBrokerReplicaKilled: one of three brokerd replicas SIGKILLed under
// load. The load client sends a refused connection to another replica (as a
// load balancer would); only requests in flight on the killed replica are
// cut; every acknowledged write reads back.
func TestBrokerReplicaKilled(t *testing.T) {
	r := &row{Scenario: "one of 3 brokerd replicas SIGKILLed"}
	report(t, r)
	cs := newClusterStack(t, 3)
	users := cs.users("rk3", 9)
	ld := newLoad(cs.api, users, faultMix, 20*time.Millisecond)
	ld.start()
	time.Sleep(3 * time.Second)
	killed := time.Now()
	cs.brokers[1].kill()
	time.Sleep(6 * time.Second)
	ld.stop()

	all := ld.snapshot()
	st := summarize(all)
	r.Requests, r.MaxLatency = st.n, st.maxLatency
	checkLatency(t, all)
	cut := 0
	for _, x := range failures(all) {
		if x.A.Err != nil && x.Start.Before(killed) {
			cut++ // in flight on the killed replica
			continue
		}
		t.Errorf("%s at +%s: %s", x.Op, x.Start.Sub(killed).Round(time.Millisecond), x.A)
	}
	r.FaultErrors = len(failures(all))
	after := len(between(all, killed, time.Now()))
	acks := ld.ackList()
	r.Lost = verifyAcked(t, cs.api, cs.cluster.Addr, acks)
	r.Note = fmt.Sprintf("%d requests after the kill carried by 2 replicas; %d cut in flight; %s; %d writes acked, %d read back",
		after, cut, window(all, killed), len(acks), len(acks)-r.Lost)
	t.Log(r.Note)
}

// unwrapOnce unwraps a bootstrap token at vaultAddr with no other token.
func unwrapOnce(vaultAddr, tok string) error {
	req, _ := http.NewRequest("POST", vaultAddr+"/v1/sys/wrapping/unwrap", strings.NewReader("{}"))
	req.Header.Set("X-Vault-Token", tok)
	res, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		return fmt.Errorf("unwrap: status %d", res.StatusCode)
	}
	return nil
}

// nodeHealth is the status of GET /v1/sys/health at one node.
func nodeHealth(addr string) (int, error) {
	res, err := (&http.Client{Timeout: 5 * time.Second}).Get(addr + "/v1/sys/health")
	if err != nil {
		return 0, err
	}
	res.Body.Close()
	return res.StatusCode, nil
}

// TestClusterStandbyCutOff: a Vault standby cut off from the other nodes and
// from HAProxy (each node in a network namespace of its own; its link taken
// down) for 15 s under load through three brokers. The active node keeps a
// quorum with the other standby: no request fails; once reconnected the node
// catches up and reports standby again; acknowledged writes read back.
func TestClusterStandbyCutOff(t *testing.T) {
	r := &row{Scenario: "vault standby cut off 15 s (network namespaces)"}
	report(t, r)
	cs := newClusterStackOn(t, 3, testenv.StartVaultClusterNetns)
	users := cs.users("cut", 9)
	ld := newLoad(cs.api, users, faultMix, 20*time.Millisecond)
	ld.start()
	time.Sleep(3 * time.Second)
	sb := cs.cluster.Standby(t)
	cut := time.Now()
	cs.cluster.Partition(t, sb)
	time.Sleep(15 * time.Second)
	cs.cluster.Heal(t, sb)
	healed := time.Now()
	r.Recovery = waitUntil(t, 60*time.Second, "the reconnected node to report standby", func() bool {
		code, err := nodeHealth(cs.cluster.Nodes[sb].Addr)
		return err == nil && code == 429
	})
	time.Sleep(3 * time.Second)
	ld.stop()

	all := ld.snapshot()
	st := summarize(all)
	r.Requests, r.MaxLatency = st.n, st.maxLatency
	checkLatency(t, all)
	r.FaultErrors = len(failures(all))
	for _, x := range failures(all) {
		t.Errorf("%s at +%s: %s", x.Op, x.Start.Sub(cut).Round(time.Millisecond), x.A)
	}
	during := len(between(all, cut, healed))
	acks := ld.ackList()
	r.Lost = verifyAcked(t, cs.api, cs.cluster.Addr, acks)
	r.Note = fmt.Sprintf("node %d cut off 15 s; %d requests while cut off; %s; standby again %s after reconnecting; %d writes acked, %d read back; %s",
		sb, during, window(all, cut), r.Recovery.Round(time.Millisecond), len(acks), len(acks)-r.Lost, st)
	t.Log(r.Note)
}
