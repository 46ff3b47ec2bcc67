package vaultx

import (
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/acme/secretsbroker/inproc/storetest"
)

// TestRecordsContract runs the record store behaviours shared with inproc and
// redisx (all but the record TTL: KV keeps a record until it is deleted)
// against a real Vault, each on a fresh KV v2 mount.
func TestRecordsContract(t *testing.T) {
	v := env.Vault(t)
	admin := adminClient(t, v)
	storetest.RunRecords(t, func(t *testing.T) storetest.Subject {
		mount := randID("rec")
		if err := admin.Sys().Mount(mount, &api.MountInput{Type: "kv", Options: map[string]string{"version": "2"}}); err != nil {
			t.Fatal(err)
		}
		c, err := New(testCtx(t), Config{Addr: v.Addr, Token: v.Token, KVMount: mount}, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return storetest.Subject{
			Records:   c.Records(),
			RecordTTL: time.Second,
			Advance:   func(_ *testing.T, d time.Duration) { time.Sleep(d) },
		}
	})
}

// TestSweepAccessors: expired accessor entries (and tombstones) are deleted,
// live ones kept.
func TestSweepAccessors(t *testing.T) {
	v := env.Vault(t)
	admin := adminClient(t, v)
	mount := randID("rec")
	if err := admin.Sys().Mount(mount, &api.MountInput{Type: "kv", Options: map[string]string{"version": "2"}}); err != nil {
		t.Fatal(err)
	}
	c, err := New(testCtx(t), Config{Addr: v.Addr, Token: v.Token, KVMount: mount}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := testCtx(t)
	r := c.Records()
	if err := r.PutAccessor(ctx, "sb-short", "acc-1", 500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := r.PutAccessor(ctx, "sb-long", "acc-2", time.Hour); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	n, err := r.SweepAccessors(ctx)
	if err != nil || n != 1 {
		t.Fatalf("SweepAccessors = %d, %v; want 1", n, err)
	}
	if acc, ok, err := r.TakeAccessor(ctx, "sb-long"); err != nil || !ok || acc != "acc-2" {
		t.Fatalf("the live accessor after the sweep: %q %v %v", acc, ok, err)
	}
}
