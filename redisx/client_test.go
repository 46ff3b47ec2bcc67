package redisx_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/inproc/storetest"
	"github.com/acme/secretsbroker/redisx"
)

func TestNewRejectsMalformedURL(t *testing.T) {
	const password = "hunter2-LEAKCHECK"
	for _, u := range []string{
		"",
		"http://127.0.0.1:6379",
		"redis://user:" + password + "@127.0.0.1:6379/notadb",
		"redis://:" + password + "@127.0.0.1:6379/0/extra",
		"redis://user:" + password + "@[::1:6379/0",
		"://" + password,
	} {
		var logs strings.Builder
		c, err := redisx.New(context.Background(), u, redisx.Options{}, zerolog.New(&logs))
		if c != nil {
			c.Close()
		}
		if !broker.IsCode(err, broker.CodeInvalid) {
			t.Errorf("New(%q) = %v, want invalid", u, err)
			continue
		}
		if strings.Contains(err.Error(), password) || strings.Contains(logs.String(), password) {
			t.Errorf("New(%q): the password leaked into %q / %q", u, err, logs.String())
		}
	}
}

// TestKeysAndTTLs checks the key layout and TTLs with the default options:
// records for 7 days, the index as a sorted set, accessors for the wrap TTL,
// cached lists (a hash per user) for 5 minutes.
func TestKeysAndTTLs(t *testing.T) {
	r := env.Redis(t)
	prefix := uniquePrefix()
	c := newClient(t, r.URL, redisx.Options{Prefix: prefix})
	raw := rawClient(t, r.Addr)
	ctx := testCtx(t)

	must(t, c.PutRuntime(ctx, storetest.Runtime("alice", "rt-1", "tok")))
	must(t, c.PutEvaluation(ctx, storetest.Evaluation("alice", "ev-1", "tok", 1)))
	must(t, c.PutAccessor(ctx, "sb-1", "acc", 90*time.Second))
	lists := c.ListCache()
	_, stamp, _, err := lists.Get(ctx, "alice")
	must(t, err)
	must(t, lists.Put(ctx, "alice", stamp, storetest.Secrets(1)))

	week := 7 * 24 * time.Hour
	for _, k := range []struct {
		key, typ string
		min, max time.Duration
	}{
		{prefix + "rt:alice/rt-1", "string", week - time.Minute, week},
		{prefix + "rtidx:alice", "zset", week - time.Minute, week},
		{prefix + "ev:alice/ev-1", "string", week - time.Minute, week},
		{prefix + "acc:sb-1", "string", 80 * time.Second, 90 * time.Second},
		{prefix + "lch:alice", "hash", 5*time.Minute - 10*time.Second, 5 * time.Minute},
	} {
		typ, err := raw.Type(ctx, k.key).Result()
		must(t, err)
		if typ != k.typ {
			t.Errorf("%s has type %q, want %q", k.key, typ, k.typ)
		}
		ttl, err := raw.PTTL(ctx, k.key).Result()
		must(t, err)
		if ttl < k.min || ttl > k.max {
			t.Errorf("%s has TTL %s, want %s..%s", k.key, ttl, k.min, k.max)
		}
	}
	if n, err := raw.ZCard(ctx, prefix+"rtidx:alice").Result(); err != nil || n != 1 {
		t.Errorf("runtime index holds %d entries (%v), want 1", n, err)
	}
}

// TestIndexPrunesGoneRecords: a record that expired (or was removed behind
// the adapter's back) disappears from the list and from the index.
func TestIndexPrunesGoneRecords(t *testing.T) {
	r := env.Redis(t)
	prefix := uniquePrefix()
	c := newClient(t, r.URL, redisx.Options{Prefix: prefix})
	raw := rawClient(t, r.Addr)
	ctx := testCtx(t)
	for i := range 3 {
		must(t, c.PutRuntime(ctx, storetest.Runtime("alice", fmt.Sprintf("rt-%d", i), "tok")))
	}
	must(t, raw.Del(ctx, prefix+"rt:alice/rt-1").Err())
	list, err := c.ListRuntimes(ctx, "alice")
	must(t, err)
	if len(list) != 2 {
		t.Fatalf("ListRuntimes = %d runtimes, want 2", len(list))
	}
	if n, _ := raw.ZCard(ctx, prefix+"rtidx:alice").Result(); n != 2 {
		t.Fatalf("index holds %d entries after listing, want 2", n)
	}
}

// TestReplicasShareState: two clients (two broker replicas) on one Redis see
// each other's records, claims, invalidations and rate limits.
func TestReplicasShareState(t *testing.T) {
	r := env.Redis(t)
	prefix := uniquePrefix()
	a := newClient(t, r.URL, redisx.Options{Prefix: prefix})
	b := newClient(t, r.URL, redisx.Options{Prefix: prefix})
	ctx := testCtx(t)

	must(t, a.PutRuntime(ctx, storetest.Runtime("alice", "rt-1", "tok")))
	if _, err := b.GetRuntime(ctx, "alice", "rt-1"); err != nil {
		t.Fatalf("replica b does not see a's runtime: %v", err)
	}
	must(t, a.PutAccessor(ctx, "sb-1", "acc", time.Minute))
	if acc, ok, err := b.TakeAccessor(ctx, "sb-1"); err != nil || !ok || acc != "acc" {
		t.Fatalf("replica b TakeAccessor = %q %v %v", acc, ok, err)
	}
	if _, ok, _ := a.TakeAccessor(ctx, "sb-1"); ok {
		t.Fatal("accessor taken twice across replicas")
	}

	if _, claimed, err := a.Idempotency().Begin(ctx, "k", time.Hour); err != nil || !claimed {
		t.Fatalf("a Begin = %v %v", claimed, err)
	}
	if _, _, err := b.Idempotency().Begin(ctx, "k", time.Hour); !broker.IsCode(err, broker.CodeConflict) {
		t.Fatalf("b Begin while a holds the key = %v, want conflict", err)
	}
	must(t, a.Idempotency().Complete(ctx, "k", broker.StoredResponse{Status: 201, Body: []byte("{}")}, time.Hour))
	if stored, claimed, err := b.Idempotency().Begin(ctx, "k", time.Hour); err != nil || claimed || stored == nil || stored.Status != 201 {
		t.Fatalf("b Begin after a completed = %+v %v %v", stored, claimed, err)
	}

	_, stamp, _, err := a.ListCache().Get(ctx, "alice")
	must(t, err)
	must(t, b.ListCache().Invalidate(ctx, "alice")) // a write on replica b
	must(t, a.ListCache().Put(ctx, "alice", stamp, storetest.Secrets(2)))
	if _, _, hit, err := b.ListCache().Get(ctx, "alice"); err != nil || hit {
		t.Fatalf("stale list cached across replicas: hit %v, err %v", hit, err)
	}

	la, err := redisx.NewLimiter(a, 1, time.Hour, 3)
	must(t, err)
	lb, err := redisx.NewLimiter(b, 1, time.Hour, 3)
	must(t, err)
	allowed := 0
	for i := range 6 {
		l := la
		if i%2 == 1 {
			l = lb
		}
		d, err := l.Allow(ctx, "shared-key")
		must(t, err)
		if d.Allowed {
			allowed++
		}
	}
	if allowed != 3 {
		t.Fatalf("6 requests across two replicas with burst 3: %d allowed", allowed)
	}
}

// TestConcurrentRequests: 128 concurrent callers (more than the 64 the pool
// is sized for) all succeed.
func TestConcurrentRequests(t *testing.T) {
	r := env.Redis(t)
	c := newClient(t, r.URL, redisx.Options{Prefix: uniquePrefix()})
	lim, err := redisx.NewLimiter(c, 1000, time.Second, 1000)
	must(t, err)
	ctx := testCtx(t)
	var wg sync.WaitGroup
	errs := make(chan error, 128*3)
	start := time.Now()
	for i := range 128 {
		wg.Go(func() {
			id := fmt.Sprintf("rt-%d", i)
			errs <- c.PutRuntime(ctx, storetest.Runtime("alice", id, "tok"))
			_, err := c.GetRuntime(ctx, "alice", id)
			errs <- err
			_, err = lim.Allow(ctx, fmt.Sprintf("k%d", i%8))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent call: %v", err)
		}
	}
	list, err := c.ListRuntimes(ctx, "alice")
	must(t, err)
	if len(list) != 128 {
		t.Fatalf("ListRuntimes = %d, want 128", len(list))
	}
	t.Logf("128 concurrent put+get+allow in %s", time.Since(start).Round(time.Millisecond))
}

func TestNewLimiterRejectsBadConfig(t *testing.T) {
	r := env.Redis(t)
	c := newClient(t, r.URL, redisx.Options{Prefix: uniquePrefix()})
	if _, err := redisx.NewLimiter(c, 0, time.Second, 1); !broker.IsCode(err, broker.CodeInvalid) {
		t.Fatalf("NewLimiter(0, 1s, 1) = %v, want invalid", err)
	}
	if _, err := redisx.NewLimiter(c, 1, time.Second, 0); !broker.IsCode(err, broker.CodeInvalid) {
		t.Fatalf("NewLimiter(1, 1s, 0) = %v, want invalid", err)
	}
}
