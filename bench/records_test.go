package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/acme/secretsbroker/broker"
)

// TestEvaluationRoundTrips pins an evaluation's Vault calls: n KV reads and
// one batch decrypt for the selection, three calls per sandbox to mint its
// token (two sandboxes per item), and one write of the evaluation record,
// which keeps every sandbox's accessor (no accessor write per sandbox).
func TestEvaluationRoundTrips(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	user := fmt.Sprintf("eval-trips-%d", time.Now().UnixNano())
	ids := f.seed(t, user, 2)
	items := []string{"a", "b", "c", "d", "e"}
	start := f.vc.RoundTrips()
	ev, err := f.svc.CreateEvaluation(ctx, user, broker.EvaluationInput{ProjectID: "p", SecretIDs: ids, Items: items})
	if err != nil {
		t.Fatal(err)
	}
	want := uint64(len(ids) + 1 + 3*2*len(items) + 1)
	if got := f.vc.RoundTrips() - start; got != want {
		t.Fatalf("evaluation of %d items over %d secrets: %d Vault round trips, want %d", len(items), len(ids), got, want)
	}
	stored, err := f.vc.Records().GetEvaluation(ctx, user, ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i, it := range stored.Items {
		if it.RuntimeSandbox.Accessor != ev.Items[i].RuntimeSandbox.Bootstrap.Accessor || it.TaskSandbox.Accessor != ev.Items[i].TaskSandbox.Bootstrap.Accessor {
			t.Fatalf("item %d: the record keeps accessors %q and %q, not the bootstraps'", i, it.RuntimeSandbox.Accessor, it.TaskSandbox.Accessor)
		}
	}
}

// TestRetireRevokesByRecordOrLegacyEntry: against a real Vault, deleting a
// runtime revokes its unused token by the accessor its record keeps; a
// record written before accessors moved into records (none in it, an
// accessors/ entry instead) is revoked by that entry, which is then gone.
func TestRetireRevokesByRecordOrLegacyEntry(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	v := shared.Vault(t)
	cfg := api.DefaultConfig()
	cfg.Address = v.Addr
	anon, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	anon.ClearToken()
	alive := func(token string) bool {
		s, err := anon.Logical().WriteWithContext(ctx, "sys/wrapping/lookup", map[string]any{"token": token})
		return err == nil && s != nil
	}
	user := fmt.Sprintf("retire-%d", time.Now().UnixNano())
	ids := f.seed(t, user, 1)
	provision := func() broker.Runtime {
		t.Helper()
		rt, err := f.svc.CreateRuntime(ctx, user, broker.RuntimeInput{ProjectID: "p", SecretIDs: ids})
		if err != nil {
			t.Fatal(err)
		}
		if !alive(rt.Sandbox.Bootstrap.Token) {
			t.Fatal("a fresh bootstrap token is not alive")
		}
		return rt
	}

	rt := provision()
	if err := f.svc.DeleteRuntime(ctx, user, rt.ID); err != nil {
		t.Fatal(err)
	}
	if alive(rt.Sandbox.Bootstrap.Token) {
		t.Fatal("deleting the runtime left its token alive")
	}

	legacy := provision()
	rec := legacy.WithoutBootstrap()
	rec.Sandbox.Accessor = ""
	if err := f.vc.Records().PutRuntime(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := f.vc.Records().PutAccessor(ctx, legacy.Sandbox.ID, legacy.Sandbox.Bootstrap.Accessor, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DeleteRuntime(ctx, user, legacy.ID); err != nil {
		t.Fatal(err)
	}
	if alive(legacy.Sandbox.Bootstrap.Token) {
		t.Fatal("deleting a legacy runtime left its token alive")
	}
	if _, ok, err := f.vc.Records().TakeAccessor(ctx, legacy.Sandbox.ID); err != nil || ok {
		t.Fatalf("the legacy accessor entry is still there (ok=%v, err=%v)", ok, err)
	}
}
