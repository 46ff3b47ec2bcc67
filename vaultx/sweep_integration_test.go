package vaultx

import (
	"slices"
	"testing"
	"time"

	"github.com/acme/secretsbroker/internal/testenv"
)

// TestSweepBundles: a plaintext bundle left under sandboxes/ (a broker
// killed between Wrap's write and delete; written here directly) is
// destroyed, metadata and every version, by a sweep with the broker's own
// AppRole policy once it is older than the bound; a bundle younger than the
// bound is left alone (it may belong to a Wrap in flight); two sweeps at
// once are fine. On a private Vault, so no other test's bundle is involved.
func TestSweepBundles(t *testing.T) {
	b := newBroker(t, testenv.StartVault(t), SetupOptions{})
	ctx := testCtx(t)
	write := func(id string) {
		t.Helper()
		if _, err := b.admin.Logical().WriteWithContext(ctx, b.c.cfg.KVMount+"/data/sandboxes/"+id,
			map[string]any{"data": map[string]any{"OPENAI_API_KEY": "sk-left-in-clear-" + id}}); err != nil {
			t.Fatal(err)
		}
	}
	old1, old2, fresh := randID("sb-old-"), randID("sb-old-"), randID("sb-fresh-")
	write(old1)
	write(old2)
	time.Sleep(3 * time.Second)
	write(fresh)

	const bound = 2 * time.Second
	results := make(chan int, 2)
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			n, err := b.c.SweepBundles(ctx, bound)
			results <- n
			errs <- err
		}()
	}
	total := 0
	for range 2 {
		total += <-results
		if err := <-errs; err != nil {
			t.Fatalf("sweep: %v", err)
		}
	}
	if total < 2 || total > 4 {
		t.Errorf("two concurrent sweeps destroyed %d bundles, want the 2 old ones (each counted once or twice)", total)
	}
	left := sandboxesLeft(t, b)
	if len(left) != 1 || !slices.Contains(left, any(fresh)) {
		t.Fatalf("left under sandboxes/: %v, want only the fresh bundle %s", left, fresh)
	}
	for _, id := range []string{old1, old2} {
		sec, err := b.admin.Logical().ReadWithContext(ctx, b.c.cfg.KVMount+"/metadata/sandboxes/"+id)
		if err != nil || sec != nil {
			t.Errorf("metadata of %s after the sweep: %v %v, want gone", id, sec, err)
		}
	}
	time.Sleep(bound)
	if n, err := b.c.SweepBundles(ctx, bound); err != nil || n != 1 {
		t.Fatalf("sweep once the fresh bundle is old too: %d, %v", n, err)
	}
	if left := sandboxesLeft(t, b); len(left) != 0 {
		t.Fatalf("left under sandboxes/: %v", left)
	}
	if n, err := b.c.SweepBundles(ctx, bound); err != nil || n != 0 {
		t.Fatalf("sweep of an empty sandboxes/: %d, %v", n, err)
	}
}
