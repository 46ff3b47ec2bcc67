package redisx_test

import (
	"testing"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/inproc/storetest"
	"github.com/acme/secretsbroker/redisx"
)

// TestListCacheCounterLost: when the generation counter goes missing
// (evicted, expired, or Redis restarted empty) between a reader's Get and
// its Put, or between a writer's Stamp and its Update, neither stores
// anything: a restarted counter never takes a value an older stamp holds.
func TestListCacheCounterLost(t *testing.T) {
	r := env.Redis(t)
	prefix := uniquePrefix()
	c := newClient(t, r.URL, redisx.Options{Prefix: prefix})
	raw := rawClient(t, r.Addr)
	ctx := testCtx(t)
	lists := c.ListCache()
	list := storetest.Secrets(3)

	// A reader misses; a write lands (Vault, then Update); Redis loses the
	// counter; the reader's Put of what it read before the write must not
	// be cached.
	_, readerStamp, _, err := lists.Get(ctx, "alice")
	must(t, err)
	st, err := lists.Stamp(ctx, "alice")
	must(t, err)
	must(t, lists.Update(ctx, "alice", st, broker.ListChange{Secret: list[0]}))
	must(t, raw.Del(ctx, prefix+"lcgen:alice").Err())
	must(t, lists.Put(ctx, "alice", readerStamp, list[1:]))
	if _, _, hit, err := lists.Get(ctx, "alice"); err != nil || hit {
		t.Fatalf("a fill read before a write was cached after the counter was lost: hit %v, err %v", hit, err)
	}

	// A current list, then the counter is lost: the list is not served,
	// and an Update with a stamp from before the loss drops it.
	_, st, _, err = lists.Get(ctx, "alice")
	must(t, err)
	must(t, lists.Put(ctx, "alice", st, list))
	writerStamp, err := lists.Stamp(ctx, "alice")
	must(t, err)
	must(t, raw.Del(ctx, prefix+"lcgen:alice").Err())
	if _, _, hit, err := lists.Get(ctx, "alice"); err != nil || hit {
		t.Fatalf("a list was served after its counter was lost: hit %v, err %v", hit, err)
	}
	must(t, raw.Del(ctx, prefix+"lcgen:alice").Err())
	must(t, lists.Update(ctx, "alice", writerStamp, broker.ListChange{Secret: list[0], Deleted: true}))
	if n, err := raw.Exists(ctx, prefix+"lch:alice").Result(); err != nil || n != 0 {
		t.Fatalf("an Update with a stamp from before the loss left the list (%d, %v)", n, err)
	}
}
