package storetest

import (
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acme/secretsbroker/broker"
)

func listCacheStamp(t *testing.T, s Subject) {
	c := ctx(t)
	list := Secrets(3)

	_, s1, hit, err := s.Lists.Get(c, "alice")
	must(t, err, "Get")
	if hit {
		t.Fatal("Get on an empty cache hit")
	}
	must(t, s.Lists.Put(c, "alice", s1, list), "Put")
	got, s1b, hit, err := s.Lists.Get(c, "alice")
	must(t, err, "Get after Put")
	if !hit || !reflect.DeepEqual(got, list) {
		t.Fatalf("Get after Put = %v, %+v; want a hit with %+v", hit, got, list)
	}
	if s1b != s1 {
		t.Fatalf("stamp changed without Invalidate: %q -> %q", s1, s1b)
	}

	// A list read before a write must not be cached after the write's Invalidate.
	must(t, s.Lists.Invalidate(c, "alice"), "Invalidate")
	_, s2, hit, err := s.Lists.Get(c, "alice")
	must(t, err, "Get after Invalidate")
	if hit {
		t.Fatal("Get after Invalidate hit")
	}
	if s2 == s1 {
		t.Fatalf("Invalidate left the stamp at %q", s1)
	}
	must(t, s.Lists.Put(c, "alice", s1, list), "Put with a stale stamp")
	if _, _, hit, err := s.Lists.Get(c, "alice"); err != nil || hit {
		t.Fatalf("Get after a stale Put = hit %v, err %v; want a miss", hit, err)
	}

	// Miss -> Invalidate (a concurrent write) -> Put with the old stamp -> still a miss.
	_, s3, _, err := s.Lists.Get(c, "alice")
	must(t, err, "Get")
	must(t, s.Lists.Invalidate(c, "alice"), "Invalidate")
	must(t, s.Lists.Put(c, "alice", s3, list), "Put")
	if _, _, hit, err := s.Lists.Get(c, "alice"); err != nil || hit {
		t.Fatalf("Get after Invalidate between Get and Put = hit %v, err %v; want a miss", hit, err)
	}

	_, s4, _, err := s.Lists.Get(c, "alice")
	must(t, err, "Get")
	list2 := Secrets(1)
	must(t, s.Lists.Put(c, "alice", s4, list2), "Put fresh")
	if got, _, hit, err := s.Lists.Get(c, "alice"); err != nil || !hit || !reflect.DeepEqual(got, list2) {
		t.Fatalf("Get after a fresh Put = %+v, hit %v, err %v", got, hit, err)
	}

	// An empty list is cached as such.
	must(t, s.Lists.Invalidate(c, "alice"), "Invalidate")
	_, s5, _, err := s.Lists.Get(c, "alice")
	must(t, err, "Get")
	must(t, s.Lists.Put(c, "alice", s5, []broker.Secret{}), "Put empty")
	if got, _, hit, err := s.Lists.Get(c, "alice"); err != nil || !hit || len(got) != 0 {
		t.Fatalf("Get of a cached empty list = %+v, hit %v, err %v", got, hit, err)
	}
}

func listCacheIsolationTTL(t *testing.T, s Subject) {
	c := ctx(t)
	_, sa, _, err := s.Lists.Get(c, "alice")
	must(t, err, "Get alice")
	must(t, s.Lists.Put(c, "alice", sa, Secrets(2)), "Put alice")
	if _, _, hit, err := s.Lists.Get(c, "bob"); err != nil || hit {
		t.Fatalf("bob's Get = hit %v, err %v; want a miss", hit, err)
	}
	must(t, s.Lists.Invalidate(c, "bob"), "Invalidate bob")
	if _, _, hit, err := s.Lists.Get(c, "alice"); err != nil || !hit {
		t.Fatalf("alice's Get after bob's Invalidate = hit %v, err %v; want a hit", hit, err)
	}
	s.Advance(t, s.ListTTL+s.ListTTL/4)
	if _, _, hit, err := s.Lists.Get(c, "alice"); err != nil || hit {
		t.Fatalf("Get after the TTL = hit %v, err %v; want a miss", hit, err)
	}
}

func idempotency(t *testing.T, s Subject) {
	c := ctx(t)
	stored, claimed, err := s.Idem.Begin(c, "key-1", time.Hour)
	must(t, err, "Begin")
	if !claimed || stored != nil {
		t.Fatalf("first Begin = %+v, %v; want a claim", stored, claimed)
	}
	_, claimed, err = s.Idem.Begin(c, "key-1", time.Hour)
	wantCode(t, err, broker.CodeConflict, "Begin while pending")
	if claimed {
		t.Fatal("Begin while pending claimed")
	}

	resp := broker.StoredResponse{RequestHash: "req-hash", Status: 201, Body: []byte(`{"id":"x","name":"A"}`)}
	must(t, s.Idem.Complete(c, "key-1", resp, time.Hour), "Complete")
	for i := range 2 {
		stored, claimed, err = s.Idem.Begin(c, "key-1", time.Hour)
		must(t, err, "Begin after Complete")
		if claimed || stored == nil || !reflect.DeepEqual(*stored, resp) {
			t.Fatalf("Begin #%d after Complete = %+v, %v; want the stored response", i, stored, claimed)
		}
	}
	// Release does not drop a completed response.
	must(t, s.Idem.Release(c, "key-1"), "Release completed")
	if stored, _, err := s.Idem.Begin(c, "key-1", time.Hour); err != nil || stored == nil {
		t.Fatalf("Begin after releasing a completed key = %+v, %v; want the stored response", stored, err)
	}

	// Release lets a new claim in.
	_, claimed, err = s.Idem.Begin(c, "key-2", time.Hour)
	must(t, err, "Begin key-2")
	if !claimed {
		t.Fatal("Begin key-2 did not claim")
	}
	must(t, s.Idem.Release(c, "key-2"), "Release")
	if _, claimed, err := s.Idem.Begin(c, "key-2", time.Hour); err != nil || !claimed {
		t.Fatalf("Begin after Release = %v, %v; want a claim", claimed, err)
	}
	must(t, s.Idem.Release(c, "key-never"), "Release of an unknown key")
}

func idempotencyTTL(t *testing.T, s Subject) {
	c := ctx(t)
	ttl := s.RecordTTL
	if _, claimed, err := s.Idem.Begin(c, "key-1", ttl); err != nil || !claimed {
		t.Fatalf("Begin = %v, %v", claimed, err)
	}
	must(t, s.Idem.Complete(c, "key-2", broker.StoredResponse{Status: 200, Body: []byte("{}")}, ttl), "Complete")
	s.Advance(t, ttl+ttl/4)
	for _, k := range []string{"key-1", "key-2"} {
		if stored, claimed, err := s.Idem.Begin(c, k, time.Hour); err != nil || !claimed || stored != nil {
			t.Fatalf("Begin %s after the TTL = %+v, %v, %v; want a new claim", k, stored, claimed, err)
		}
	}
}

func idempotencyConcurrent(t *testing.T, s Subject) {
	c := ctx(t)
	var conflicts atomic.Int32
	claims := parallel(20, func() bool {
		_, claimed, err := s.Idem.Begin(c, "key-race", time.Hour)
		if broker.IsCode(err, broker.CodeConflict) {
			conflicts.Add(1)
		}
		return err == nil && claimed
	})
	if claims != 1 || conflicts.Load() != 19 {
		t.Fatalf("20 concurrent Begins: %d claims, %d conflicts; want 1 and 19", claims, conflicts.Load())
	}
}

// parallel runs f n times at once and counts the calls that returned true.
func parallel(n int, f func() bool) int {
	var wg sync.WaitGroup
	var count atomic.Int32
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			if f() {
				count.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	return int(count.Load())
}
