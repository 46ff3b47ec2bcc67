package bench

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/inproc"
)

// TestProvisionReadsOnlyTheSelection: provisioning reads the selected
// secrets (names come with their data) and never the user's list, so a cold
// list cache costs nothing: n KV reads + batch decrypt + 3 calls to mint +
// the runtime record write, which holds the accessor (records live in Vault
// KV).
// Another user's id, or a malformed one, is not_found.
func TestProvisionReadsOnlyTheSelection(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	user := fmt.Sprintf("sel-%d", time.Now().UnixNano())
	ids := f.seed(t, user, 30) // every create invalidated the list cache: it is cold
	other := fmt.Sprintf("sel-other-%d", time.Now().UnixNano())
	otherIDs := f.seed(t, other, 1)
	for _, n := range []int{1, 20} {
		start := f.vc.RoundTrips()
		rt, err := f.svc.CreateRuntime(ctx, user, broker.RuntimeInput{ProjectID: "p", SecretIDs: ids[:n]})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := f.vc.RoundTrips()-start, uint64(n+5); got != want {
			t.Errorf("provision of %d secrets, cold list cache: %d Vault round trips, want %d", n, got, want)
		}
		want := make([]string, n)
		for i := range want {
			want[i] = fmt.Sprintf("BENCH_%03d", i)
		}
		if !slices.Equal(rt.Sandbox.EnvNames, want) {
			t.Errorf("env names %v, want %v", rt.Sandbox.EnvNames, want)
		}
	}
	for _, bad := range [][]string{{ids[0], otherIDs[0]}, {"../" + ids[0]}, {broker.NewID()}} {
		if _, err := f.svc.CreateRuntime(ctx, user, broker.RuntimeInput{ProjectID: "p", SecretIDs: bad}); !broker.IsCode(err, broker.CodeNotFound) {
			t.Errorf("provision with %v: %v, want not_found", bad, err)
		}
	}
}

// plainStore hides the optional NamedCiphertextStore of the Vault client.
type plainStore struct{ broker.SecretStore }

// TestProvisionFallsBackToTheList: with a store that keeps no names with the
// ciphertexts, the ids are checked against (and named from) the user's list.
func TestProvisionFallsBackToTheList(t *testing.T) {
	f := newFixture(t)
	mem := inproc.New(time.Now, inproc.Options{})
	svc := broker.NewService(broker.Config{SandboxVaultAddr: "http://vault"},
		broker.Deps{Secrets: plainStore{f.vc}, Crypto: f.vc, Boot: f.vc, Records: mem, Cache: mem.ListCache()})
	ctx := context.Background()
	user := fmt.Sprintf("plain-%d", time.Now().UnixNano())
	ids := f.seed(t, user, 3)
	start := f.vc.RoundTrips()
	rt, err := svc.CreateRuntime(ctx, user, broker.RuntimeInput{ProjectID: "p", SecretIDs: ids[1:]})
	if err != nil {
		t.Fatal(err)
	}
	// LIST + 3 metadata reads (cold cache), 2 KV reads, decrypt, 3 to mint.
	if got := f.vc.RoundTrips() - start; got != 10 {
		t.Errorf("%d Vault round trips, want 10", got)
	}
	if want := []string{"BENCH_001", "BENCH_002"}; !slices.Equal(rt.Sandbox.EnvNames, want) {
		t.Errorf("env names %v, want %v", rt.Sandbox.EnvNames, want)
	}
	other := fmt.Sprintf("plain-other-%d", time.Now().UnixNano())
	if _, err := svc.CreateRuntime(ctx, other, broker.RuntimeInput{ProjectID: "p", SecretIDs: ids[:1]}); !broker.IsCode(err, broker.CodeNotFound) {
		t.Errorf("another user's id: %v, want not_found", err)
	}
}
