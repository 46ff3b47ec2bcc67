package egressproxy

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acme/secretsbroker/broker"
)

// countingSource answers from fixed records and counts the reads (a stub
// of the Source interface, for the cache's timing only).
type countingSource struct {
	reads atomic.Int32
	value string
	gone  bool
}

func (s *countingSource) EgressSandbox(context.Context, string) (broker.SandboxEgress, error) {
	s.reads.Add(1)
	if s.gone {
		return broker.SandboxEgress{}, broker.Errorf(broker.CodeNotFound, "gone")
	}
	return broker.SandboxEgress{SandboxID: "sb"}, nil
}

func (s *countingSource) EgressPlaceholder(context.Context, string) (broker.PlaceholderRecord, error) {
	s.reads.Add(1)
	return broker.PlaceholderRecord{}, broker.Errorf(broker.CodeUnavailable, "vault down")
}

func (s *countingSource) CurrentValue(context.Context, string, string) (string, error) {
	s.reads.Add(1)
	return s.value, nil
}

func TestCacheKeepsRecordsAndValuesForTheirTTLOnly(t *testing.T) {
	now := time.Unix(1000, 0)
	src := &countingSource{value: "v1"}
	c := NewCache(src, CacheConfig{RecordTTL: 5 * time.Second, ValueTTL: 30 * time.Second, Now: func() time.Time { return now }})
	ctx := context.Background()
	_, _ = c.EgressSandbox(ctx, "sb")
	_, _ = c.EgressSandbox(ctx, "sb")
	if n := src.reads.Load(); n != 1 {
		t.Fatalf("%d reads within the record TTL, want 1", n)
	}
	src.gone = true
	now = now.Add(5 * time.Second) // the TTL is over: a revocation shows
	if _, err := c.EgressSandbox(ctx, "sb"); !broker.IsCode(err, broker.CodeNotFound) {
		t.Fatalf("after the record TTL: %v, want not_found", err)
	}
	now = now.Add(500 * time.Millisecond)
	_, _ = c.EgressSandbox(ctx, "sb") // absence is cached a second at most
	if n := src.reads.Load(); n != 2 {
		t.Fatalf("%d reads, want 2", n)
	}
	// An unavailable Vault is not cached.
	_, _ = c.EgressPlaceholder(ctx, "h")
	_, _ = c.EgressPlaceholder(ctx, "h")
	if n := src.reads.Load(); n != 4 {
		t.Fatalf("%d reads, want 4 (errors are not cached)", n)
	}
	v, _ := c.CurrentValue(ctx, "u", "s")
	src.value = "v2"
	now = now.Add(29 * time.Second)
	if v2, _ := c.CurrentValue(ctx, "u", "s"); v != "v1" || v2 != "v1" {
		t.Fatalf("within the value TTL: %q %q", v, v2)
	}
	now = now.Add(time.Second)
	if v3, _ := c.CurrentValue(ctx, "u", "s"); v3 != "v2" {
		t.Fatalf("after the value TTL: %q, want the new value", v3)
	}
}
