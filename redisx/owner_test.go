package redisx_test

import (
	"testing"
	"time"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/redisx"
)

// TestRecordsOwnerCheckedBeforeDecoding: another user's evaluation or
// runtime answers not_found without its body being read or decoded (no
// timing oracle on ids: the cost must not depend on the record's size).
// The stored bodies are replaced by garbage: the owner still gets an
// internal error (the garbage is what is stored and it is read for them),
// another user gets not_found, exactly as for an unknown id.
func TestRecordsOwnerCheckedBeforeDecoding(t *testing.T) {
	r := env.Redis(t)
	prefix := uniquePrefix()
	c := newClient(t, r.URL, redisx.Options{Prefix: prefix, RecordTTL: time.Minute})
	raw := rawClient(t, r.Addr)
	ctx := testCtx(t)
	now := time.Now().UTC()
	ev := broker.Evaluation{ID: broker.NewID(), UserID: "owner-a", ProjectID: "p", CreatedAt: now}
	rt := broker.Runtime{ID: broker.NewID(), UserID: "owner-a", ProjectID: "p", CreatedAt: now, UpdatedAt: now}
	if err := c.PutEvaluation(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if err := c.PutRuntime(ctx, rt); err != nil {
		t.Fatal(err)
	}
	corrupt := func(id string) {
		t.Helper()
		keys, err := raw.Keys(ctx, prefix+"*"+id+"*").Result()
		if err != nil || len(keys) != 1 {
			t.Fatalf("keys of %s: %v %v", id, keys, err)
		}
		if err := raw.Set(ctx, keys[0], "\x00not json", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
	}
	corrupt(ev.ID)
	corrupt(rt.ID)

	if _, err := c.GetEvaluation(ctx, "owner-b", ev.ID); !broker.IsCode(err, broker.CodeNotFound) {
		t.Errorf("another user's evaluation: %v, want not_found", err)
	}
	if _, err := c.GetRuntime(ctx, "owner-b", rt.ID); !broker.IsCode(err, broker.CodeNotFound) {
		t.Errorf("another user's runtime: %v, want not_found", err)
	}
	if err := c.DeleteRuntime(ctx, "owner-b", rt.ID); !broker.IsCode(err, broker.CodeNotFound) {
		t.Errorf("deleting another user's runtime: %v, want not_found", err)
	}
	if _, err := c.GetEvaluation(ctx, "owner-a", ev.ID); err == nil || broker.IsCode(err, broker.CodeNotFound) {
		t.Errorf("owner's corrupt evaluation: %v, want an internal error", err)
	}
	if _, err := c.GetRuntime(ctx, "owner-a", rt.ID); err == nil || broker.IsCode(err, broker.CodeNotFound) {
		t.Errorf("owner's corrupt runtime: %v, want an internal error", err)
	}
}
