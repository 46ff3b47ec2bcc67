package redisx_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/acme/secretsbroker/internal/testenv"
	"github.com/acme/secretsbroker/redisx"
)

const noticeChannel = "authfail-notice"

// noticed returns a NoticedLimiter of rate per period with burst on c,
// closed when the test ends.
func noticed(t *testing.T, c *redisx.Client, rate int, period time.Duration, burst int, opts redisx.NoticeOptions) *redisx.NoticedLimiter {
	t.Helper()
	base, err := redisx.NewLimiter(c, rate, period, burst)
	must(t, err)
	n := base.Noticed(context.Background(), noticeChannel, opts)
	t.Cleanup(n.Close)
	return n
}

// waitExact polls until n.Exact(key) is want, or fails after d.
func waitExact(t *testing.T, n *redisx.NoticedLimiter, key string, want bool, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for n.Exact(key) != want {
		if time.Since(start) > d {
			t.Fatalf("Exact(%q) still %v after %s", key, !want, d)
		}
		runtime.Gosched()
	}
	return time.Since(start)
}

// numsub polls until the channel of prefix has want subscribers, or fails
// after 10s.
func numsub(t *testing.T, ctx context.Context, r *testenv.Redis, prefix string, want int64) {
	t.Helper()
	raw := rawClient(t, r.Addr)
	ch := prefix + "rl:" + noticeChannel
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := raw.PubSubNumSub(ctx, ch).Result()
		must(t, err)
		if got[ch] == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has %d subscribers after 10s, want %d", ch, got[ch], want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestNoticedLimiterAcrossReplicas: once replica B is past its start window,
// its Peek of a clean key makes no Redis call; failures taken through
// replica A until the budget is spent make B's Peek refuse the address,
// well within the interval the bucket refuses for.
func TestNoticedLimiterAcrossReplicas(t *testing.T) {
	r := testenv.StartRedis(t) // private: INFO commandstats counts only this test
	prefix := uniquePrefix()
	ctx := testCtx(t)
	a := noticed(t, newClient(t, r.URL, redisx.Options{Prefix: prefix}), 1, time.Second, 3, redisx.NoticeOptions{})
	b := noticed(t, newClient(t, r.URL, redisx.Options{Prefix: prefix}), 1, time.Second, 3, redisx.NoticeOptions{})
	raw := rawClient(t, r.Addr)
	const clean, spent = "authfail:198.51.100.7", "authfail:192.0.2.1"

	if !b.Exact(clean) {
		t.Fatal("Peek skips Redis right after the start: announcements made before it would be missed")
	}
	waitExact(t, b, clean, false, 10*b.MarkLifetime())
	before := scriptCalls(t, raw.Info(ctx, "commandstats").Val())
	for range 100 {
		d, err := b.Peek(ctx, clean)
		must(t, err)
		if !d.Allowed || d.Remaining != 3 {
			t.Fatalf("clean address: %+v, want allowed with the burst remaining", d)
		}
	}
	if n := scriptCalls(t, raw.Info(ctx, "commandstats").Val()) - before; n != 0 {
		t.Fatalf("100 peeks of a clean address cost %d script calls on a settled replica, want 0", n)
	}

	for i := range 3 {
		d, err := a.Allow(ctx, spent)
		must(t, err)
		if !d.Allowed {
			t.Fatalf("failure %d of a burst of 3 refused", i+1)
		}
	}
	last := time.Now()
	// The bucket refuses for one interval (1s) after the last take; B must
	// refuse well within it.
	for {
		d, err := b.Peek(ctx, spent)
		must(t, err)
		if !d.Allowed {
			if d.RetryAfter <= 0 || d.RetryAfter > time.Second {
				t.Errorf("refused with RetryAfter %s, want (0, 1s]", d.RetryAfter)
			}
			break
		}
		if time.Since(last) > 500*time.Millisecond {
			t.Fatal("replica B still admits an address whose budget replica A spent 500ms ago")
		}
		time.Sleep(time.Millisecond)
	}
	if d, err := a.Peek(ctx, spent); err != nil || d.Allowed {
		t.Fatalf("replica A's own peek after spending the budget: %+v %v, want refused", d, err)
	}
	if b.Exact(clean) {
		t.Error("another address's failures made the clean address exact")
	}
}

// TestNoticedLimiterResubscribe: when its subscription connection is killed,
// replica B's Peek asks Redis again; failures announced while B could not
// resubscribe are still refused by B once it has resubscribed (it stays
// exact for a mark lifetime after every subscription).
func TestNoticedLimiterResubscribe(t *testing.T) {
	r := testenv.StartRedis(t)
	prefix := uniquePrefix()
	ctx := testCtx(t)
	raw := rawClient(t, r.Addr)
	// B connects as its own ACL user, so that the test can keep it from
	// subscribing while its commands still work.
	must(t, raw.Do(ctx, "ACL", "SETUSER", "replica-b", "on", ">pw-b", "~*", "&*", "+@all").Err())
	bURL := (&url.URL{Scheme: "redis", User: url.UserPassword("replica-b", "pw-b"), Host: r.Addr, Path: "/0"}).String()
	// Interval 4s: the bucket still refuses when B is back (its backoff is at most 2s).
	a := noticed(t, newClient(t, r.URL, redisx.Options{Prefix: prefix}), 1, 4*time.Second, 2, redisx.NoticeOptions{})
	b := noticed(t, newClient(t, bURL, redisx.Options{Prefix: prefix}), 1, 4*time.Second, 2, redisx.NoticeOptions{})
	const clean, spent = "authfail:198.51.100.8", "authfail:192.0.2.2"
	waitExact(t, b, clean, false, 3*b.MarkLifetime())
	numsub(t, ctx, r, prefix, 2)

	must(t, raw.Do(ctx, "ACL", "SETUSER", "replica-b", "resetchannels").Err())
	must(t, raw.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub").Err())
	waitExact(t, b, clean, true, 5*time.Second)
	before := scriptCalls(t, raw.Info(ctx, "commandstats").Val())
	d, err := b.Peek(ctx, clean)
	must(t, err)
	if !d.Allowed {
		t.Fatalf("clean address refused: %+v", d)
	}
	if n := scriptCalls(t, raw.Info(ctx, "commandstats").Val()) - before; n < 1 {
		t.Fatalf("a peek without a subscription cost %d script calls, want it to ask Redis", n)
	}

	numsub(t, ctx, r, prefix, 1) // A is back, B is not
	for i := range 2 {
		if d, err := a.Allow(ctx, spent); err != nil || !d.Allowed {
			t.Fatalf("failure %d of a burst of 2: %+v %v", i+1, d, err)
		}
	}
	must(t, raw.Do(ctx, "ACL", "SETUSER", "replica-b", "allchannels").Err())
	numsub(t, ctx, r, prefix, 2) // B resubscribed, after the announcements
	d, err = b.Peek(ctx, spent)
	must(t, err)
	if d.Allowed {
		t.Fatal("replica B admits an address whose budget was spent while it was not subscribed")
	}
	if !b.Exact(clean) {
		t.Error("replica B skips Redis right after resubscribing")
	}
}

// TestNoticedLimiterSuspectBound: past MaxSuspects marked addresses, every
// Peek asks Redis until the marks could have ended.
func TestNoticedLimiterSuspectBound(t *testing.T) {
	r := env.Redis(t)
	prefix := uniquePrefix()
	ctx := testCtx(t)
	opts := redisx.NoticeOptions{MaxSuspects: 4}
	a := noticed(t, newClient(t, r.URL, redisx.Options{Prefix: prefix}), 2, time.Second, 5, opts)
	b := noticed(t, newClient(t, r.URL, redisx.Options{Prefix: prefix}), 2, time.Second, 5, opts)
	const clean = "authfail:198.51.100.9"
	waitExact(t, b, clean, false, 10*b.MarkLifetime())
	waitExact(t, a, clean, false, 10*a.MarkLifetime())
	for i := range 4 {
		key := fmt.Sprintf("authfail:192.0.2.%d", 10+i)
		_, err := a.Allow(ctx, key)
		must(t, err)
		waitExact(t, b, key, true, time.Second)
	}
	if a.Exact(clean) || b.Exact(clean) {
		t.Fatal("4 suspects of at most 4 made a clean address exact")
	}
	_, err := a.Allow(ctx, "authfail:192.0.2.20")
	must(t, err)
	if !a.Exact(clean) {
		t.Error("replica A: a fifth suspect of at most 4 left a clean address skipping Redis")
	}
	waitExact(t, b, clean, true, time.Second)
	// Once the marks have ended, the clean address skips Redis again.
	waitExact(t, b, clean, false, 3*b.MarkLifetime())
}

// TestNoticedLimiterMarksCoverRefusals: whenever Redis refuses an address,
// replica B has it marked (so its Peek asks Redis), under failures taken
// through replica A at random intervals around the refill interval. It
// also measures the announcement latency: from A's Allow returning (when a
// client hears of its failure) to B's mark.
func TestNoticedLimiterMarksCoverRefusals(t *testing.T) {
	r := env.Redis(t)
	prefix := uniquePrefix()
	ctx := testCtx(t)
	const rate, period, burst = 1, 200 * time.Millisecond, 3
	ca, cb := newClient(t, r.URL, redisx.Options{Prefix: prefix}), newClient(t, r.URL, redisx.Options{Prefix: prefix})
	a := noticed(t, ca, rate, period, burst, redisx.NoticeOptions{})
	b := noticed(t, cb, rate, period, burst, redisx.NoticeOptions{})
	exact, err := redisx.NewLimiter(cb, rate, period, burst)
	must(t, err)
	const key = "authfail:192.0.2.30"
	waitExact(t, b, key, false, 10*b.MarkLifetime())

	var after, whole []time.Duration
	refusals, checks := 0, 0
	end := time.Now().Add(3 * time.Second)
	for i := 0; time.Now().Before(end); i++ {
		pause := time.Now().Add(time.Duration(rand.Int64N(int64(3 * period / 2))))
		for time.Now().Before(pause) {
			marked := b.Exact(key)
			d, err := exact.Peek(ctx, key)
			must(t, err)
			checks++
			if !d.Allowed {
				refusals++
				if !marked {
					t.Fatalf("Redis refuses %s but replica B does not have it marked: its Peek would admit it", key)
				}
			}
		}
		if _, err := a.Allow(ctx, key); err != nil {
			t.Fatal(err)
		}
		// Announcements are read in order: once B has the probe marked, it
		// has read the announcement of key too.
		probe := fmt.Sprintf("authfail:203.0.113.%d", i%250)
		start := time.Now()
		_, err := a.Allow(ctx, probe)
		must(t, err)
		took := time.Since(start)
		wait := waitExact(t, b, probe, true, time.Second)
		after, whole = append(after, wait), append(whole, took+wait)
	}
	if refusals == 0 {
		t.Fatalf("%d checks saw no refusal: the test proves nothing", checks)
	}
	slices.Sort(after)
	slices.Sort(whole)
	t.Logf("%d checks, %d refused, all marked on B; announcement latency after A's Allow returned: p50 %s, p99 %s, max %s; from its start: p50 %s, p99 %s (%d samples)",
		checks, refusals, after[len(after)/2], after[len(after)*99/100], after[len(after)-1], whole[len(whole)/2], whole[len(whole)*99/100], len(after))
}

// TestNoticedLimiterNoticeLatency measures how long after replica A's Allow
// returns (when the client hears of its failed authentication) replica B
// has the address marked, over 500 fresh addresses on loopback. Every
// announcement must arrive within a second.
func TestNoticedLimiterNoticeLatency(t *testing.T) {
	r := env.Redis(t)
	prefix := uniquePrefix()
	ctx := testCtx(t)
	// Interval 100ms: a short start window, and marks that outlast any delay here.
	a := noticed(t, newClient(t, r.URL, redisx.Options{Prefix: prefix}), 10, time.Second, 30, redisx.NoticeOptions{})
	b := noticed(t, newClient(t, r.URL, redisx.Options{Prefix: prefix}), 10, time.Second, 30, redisx.NoticeOptions{})
	waitExact(t, b, "authfail:198.51.100.10", false, 20*b.MarkLifetime())
	const n = 500
	lat := make([]time.Duration, 0, n)
	for i := range n {
		key := fmt.Sprintf("authfail:10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		_, err := a.Allow(ctx, key)
		must(t, err)
		lat = append(lat, waitExact(t, b, key, true, time.Second))
	}
	slices.Sort(lat)
	t.Logf("announcement latency after Allow returned, %d addresses: p50 %s, p90 %s, p99 %s, max %s",
		n, lat[n/2], lat[n*9/10], lat[n*99/100], lat[n-1])
}
