package vaultx

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/rs/zerolog"

	"github.com/acme/secretsbroker/internal/testenv"
)

// TestLeaderElectionCASWrites: check-and-set writes and reads through HAProxy
// to a 3-node Raft cluster while the active node is SIGKILLed. Every call
// succeeds within its 10 s deadline (the election costs latency, not
// errors), and per path version k holds exactly the k-th acknowledged write:
// no acknowledged write lost, none applied twice (a write whose answer was
// lost is read back, not blindly sent again).
func TestLeaderElectionCASWrites(t *testing.T) {
	cl := testenv.StartVaultCluster(t)
	admin, err := NewAPIClient(Config{Addr: cl.Addr, Token: cl.Token}, APIOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mount := randID("ha")
	if err := admin.Sys().Mount(mount, &api.MountInput{Type: "kv", Options: map[string]string{"version": "2"}}); err != nil {
		t.Fatal(err)
	}
	// Keep every version (KV keeps 10 by default), to check each one.
	if _, err := admin.Logical().Write(mount+"/config", map[string]any{"max_versions": 100000}); err != nil {
		t.Fatal(err)
	}
	var logs testenv.SyncBuffer
	c, err := New(testCtx(t), Config{Addr: cl.Addr, Token: cl.Token, KVMount: mount}, zerolog.New(&logs))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	const workers = 6
	var (
		stop     atomic.Bool
		wg       sync.WaitGroup
		mu       sync.Mutex
		acks     = map[string]int{} // path -> acknowledged writes (= versions)
		failures []string
		maxLat   time.Duration
		calls    atomic.Int64
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := fmt.Sprintf("w%d", w)
			for n := 1; !stop.Load(); n++ {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				start := time.Now()
				_, err := c.kvWrite(ctx, p, map[string]any{"n": n, "worker": p}, n-1)
				if err == nil {
					_, _, err = kvReadInto[map[string]any](ctx, c, p, n)
				}
				lat := time.Since(start)
				cancel()
				calls.Add(2)
				mu.Lock()
				maxLat = max(maxLat, lat)
				if err != nil {
					failures = append(failures, fmt.Sprintf("%s write %d after %s: %v", p, n, lat.Round(time.Millisecond), err))
					mu.Unlock()
					return
				}
				acks[p] = n
				mu.Unlock()
			}
		}()
	}
	time.Sleep(2 * time.Second)
	leader := cl.Active(t)
	killed := time.Now()
	cl.Kill(t, leader)
	next, err := cl.WaitActive(context.Background(), leader, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	election := time.Since(killed)
	time.Sleep(3 * time.Second)
	stop.Store(true)
	wg.Wait()

	for _, f := range failures {
		t.Errorf("during the election: %s", f)
	}
	readBacks := strings.Count(logs.String(), "it was applied")
	t.Logf("node %d killed, node %d active behind HAProxy after %s; %d calls, slowest %s; %d lost answers resolved by read-back",
		leader, next, election.Round(time.Millisecond), calls.Load(), maxLat.Round(time.Millisecond), readBacks)
	// Every version of every path holds its own write, once.
	for p, n := range acks {
		m, err := admin.Logical().Read(mount + "/metadata/" + p)
		if err != nil || m == nil {
			t.Fatalf("metadata of %s: %v", p, err)
		}
		if cur := fmt.Sprint(m.Data["current_version"]); cur != fmt.Sprint(n) {
			t.Errorf("%s: current version %s, acknowledged writes %d (a write applied twice, or one lost)", p, cur, n)
		}
		for k := 1; k <= n; k++ {
			d, err := admin.Logical().ReadWithData(mount+"/data/"+p, map[string][]string{"version": {fmt.Sprint(k)}})
			if err != nil || d == nil {
				t.Fatalf("%s version %d: %v", p, k, err)
			}
			if got := fmt.Sprint(d.Data["data"].(map[string]any)["n"]); got != fmt.Sprint(k) {
				t.Errorf("%s version %d holds write %s", p, k, got)
			}
		}
	}
}
