package storetest

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acme/secretsbroker/broker"
)

// other is the second handle on the subject's list cache (another replica).
func (s Subject) other() broker.ListCache {
	if s.OtherLists != nil {
		return s.OtherLists
	}
	return s.Lists
}

func secretsOf(t *testing.T, l broker.ListCache, what string) ([]broker.Secret, string, bool) {
	t.Helper()
	got, stamp, hit, err := l.Get(ctx(t), "alice")
	must(t, err, what)
	return got, stamp, hit
}

func wantList(t *testing.T, s Subject, want []broker.Secret, what string) {
	t.Helper()
	for _, l := range []broker.ListCache{s.Lists, s.other()} {
		got, _, hit := secretsOf(t, l, what)
		if !hit || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: Get = hit %v,\n%+v\nwant a hit with\n%+v", what, hit, got, want)
		}
	}
}

func wantMiss(t *testing.T, s Subject, what string) {
	t.Helper()
	if _, _, hit := secretsOf(t, s.other(), what); hit {
		t.Fatalf("%s: Get hit, want a miss", what)
	}
}

// listCacheUpdate: Update changes a current list in place (add, replace,
// remove, sorted by name), keeps an entry of a higher version, keeps the
// list's TTL, and changes the stamp each time.
func listCacheUpdate(t *testing.T, s Subject) {
	c := ctx(t)
	list := Secrets(3)
	_, s0, _, err := s.Lists.Get(c, "alice")
	must(t, err, "Get")
	must(t, s.Lists.Put(c, "alice", s0, list), "Put")

	update := func(l broker.ListCache, ch broker.ListChange, what string) {
		t.Helper()
		stamp, err := l.Stamp(c, "alice")
		must(t, err, "Stamp before "+what)
		must(t, l.Update(c, "alice", stamp, ch), what)
		if after, err := l.Stamp(c, "alice"); err != nil || after == stamp {
			t.Fatalf("%s left the stamp at %q (%v)", what, stamp, err)
		}
	}
	stamp, err := s.Lists.Stamp(c, "alice")
	must(t, err, "Stamp")
	if stamp != s0 {
		t.Fatalf("Stamp = %q, Get answered %q", stamp, s0)
	}

	added := list[0]
	added.ID, added.Name, added.Version = "sec-new", "A_FIRST", 1
	update(s.Lists, broker.ListChange{Secret: added}, "Update adding a secret")
	want := append([]broker.Secret{added}, list...)
	wantList(t, s, want, "after an add")

	rotated := list[1]
	rotated.Version, rotated.MaskedValue, rotated.EgressHosts = 9, "sk-n••••••••", []string{"api.example.com"}
	update(s.other(), broker.ListChange{Secret: rotated}, "Update replacing a secret (other client)")
	want[2] = rotated
	wantList(t, s, want, "after a replace")

	older := rotated
	older.Version, older.MaskedValue = 8, "sk-o••••••••"
	update(s.Lists, broker.ListChange{Secret: older}, "Update with an older version")
	wantList(t, s, want, "after an older version")

	update(s.Lists, broker.ListChange{Secret: broker.Secret{ID: list[0].ID}, Deleted: true}, "Update deleting a secret")
	want = []broker.Secret{want[0], want[2], want[3]}
	wantList(t, s, want, "after a delete")
	update(s.Lists, broker.ListChange{Secret: broker.Secret{ID: "sec-absent"}, Deleted: true}, "Update deleting an absent secret")
	wantList(t, s, want, "after deleting an absent secret")

	// The list keeps the TTL of its Put: writes do not keep it alive.
	s.Advance(t, s.ListTTL*3/4)
	update(s.Lists, broker.ListChange{Secret: broker.Secret{ID: list[2].ID}, Deleted: true}, "Update late in the TTL")
	wantList(t, s, want[:2], "after a late update")
	s.Advance(t, s.ListTTL/2)
	wantMiss(t, s, "past the TTL of the Put")
}

// listCacheUpdateStale: an Update whose stamp is not current (another write
// came between its Stamp and its Update), or that finds no current list,
// drops the list and changes the stamp, so that neither it nor a fill read
// before it is ever served.
func listCacheUpdateStale(t *testing.T, s Subject) {
	c := ctx(t)
	list := Secrets(3)
	fill := func() string {
		t.Helper()
		_, st, _, err := s.Lists.Get(c, "alice")
		must(t, err, "Get")
		must(t, s.Lists.Put(c, "alice", st, list), "Put")
		return st
	}
	ch := broker.ListChange{Secret: broker.Secret{ID: "sec-x", Name: "X", Version: 1}}

	// Two writers read the same stamp: the first updates in place, the
	// second (on the other client) finds the stamp moved and drops the list.
	fill()
	st1, err := s.Lists.Stamp(c, "alice")
	must(t, err, "Stamp 1")
	st2, err := s.other().Stamp(c, "alice")
	must(t, err, "Stamp 2")
	must(t, s.Lists.Update(c, "alice", st1, ch), "Update 1")
	wantList(t, s, append([]broker.Secret{list[0], list[1], list[2]}, ch.Secret), "after the first writer")
	must(t, s.other().Update(c, "alice", st2, broker.ListChange{Secret: broker.Secret{ID: list[0].ID}, Deleted: true}), "Update 2")
	wantMiss(t, s, "after a writer overtaken between Stamp and Update")

	// Invalidate between Stamp and Update: the same.
	fill()
	st, err := s.Lists.Stamp(c, "alice")
	must(t, err, "Stamp")
	must(t, s.other().Invalidate(c, "alice"), "Invalidate")
	fill()
	must(t, s.Lists.Update(c, "alice", st, ch), "Update with a stamp from before an Invalidate")
	wantMiss(t, s, "after an Update with a stamp from before an Invalidate")

	// Stale fill: a reader's Get (miss), then a write's Stamp and Update
	// (nothing cached), then the reader's Put of what it read before the
	// write: ignored.
	must(t, s.Lists.Invalidate(c, "alice"), "Invalidate")
	_, readerStamp, hit, err := s.Lists.Get(c, "alice")
	must(t, err, "reader Get")
	if hit {
		t.Fatal("Get after Invalidate hit")
	}
	st, err = s.other().Stamp(c, "alice")
	must(t, err, "writer Stamp")
	must(t, s.other().Update(c, "alice", st, ch), "writer Update with nothing cached")
	must(t, s.Lists.Put(c, "alice", readerStamp, list), "reader Put")
	wantMiss(t, s, "after a fill read before a write")

	// A fill that lands between a write's Stamp and its Update (it may or
	// may not show the write) gets the write applied in place.
	_, readerStamp, _, err = s.Lists.Get(c, "alice")
	must(t, err, "reader Get")
	st, err = s.other().Stamp(c, "alice")
	must(t, err, "writer Stamp")
	must(t, s.Lists.Put(c, "alice", readerStamp, list), "reader Put")
	must(t, s.other().Update(c, "alice", st, ch), "writer Update")
	wantList(t, s, append(append([]broker.Secret{}, list...), ch.Secret), "after a fill between a write's Stamp and Update")
}

// listCacheConcurrent: writers on both clients change a shared "store"
// (each its own secrets, and secrets all of them rotate or delete) and
// Update the cache, while readers fill it from the store on a miss. After
// each Update, a hit shows that writer's own secrets as it left them; at
// the end a hit equals the store.
func listCacheConcurrent(t *testing.T, s Subject) {
	c := ctx(t)
	var (
		mu    sync.Mutex
		store = map[string]broker.Secret{}
	)
	snapshot := func() []broker.Secret {
		mu.Lock()
		defer mu.Unlock()
		out := make([]broker.Secret, 0, len(store))
		for _, sec := range store {
			out = append(out, sec)
		}
		broker.SortSecrets(out)
		return out
	}
	fill := func(l broker.ListCache) ([]broker.Secret, bool, error) {
		got, stamp, hit, err := l.Get(c, "alice")
		if err != nil || hit {
			return got, hit, err
		}
		return nil, false, l.Put(c, "alice", stamp, snapshot())
	}
	const writers, ops, shared = 4, 60, 2
	var slots [shared]string // the current id of each shared secret
	recreated := 0
	for k := range shared {
		slots[k] = fmt.Sprintf("sec-shared-%d-0", k)
		store[slots[k]] = broker.Secret{ID: slots[k], Name: fmt.Sprintf("SHARED_%d_0", k), MaskedValue: "sk-••••••••", Version: 1, CreatedAt: base, UpdatedAt: base}
	}
	var checked atomic.Int32
	var wg sync.WaitGroup
	done := make(chan struct{})
	errs := make(chan error, writers+2)
	for r := range 2 {
		l := []broker.ListCache{s.Lists, s.other()}[r]
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				if _, _, err := fill(l); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	var writersWG sync.WaitGroup
	for w := range writers {
		l := []broker.ListCache{s.Lists, s.other()}[w%2]
		writersWG.Go(func() {
			mine := map[string]broker.Secret{} // what this writer left in the store
			for i := range ops {
				stamp, err := l.Stamp(c, "alice")
				if err != nil {
					errs <- err
					return
				}
				var ch broker.ListChange
				mu.Lock()
				if i%2 == 1 { // a secret every writer rotates or deletes
					k := (w + i/2) % shared
					cur, ok := store[slots[k]]
					switch {
					case !ok: // deleted: a new one takes the slot
						recreated++
						slots[k] = fmt.Sprintf("sec-shared-%d-%d", k, recreated)
						ch.Secret = broker.Secret{ID: slots[k], Name: fmt.Sprintf("SHARED_%d_%d", k, recreated), MaskedValue: "sk-••••••••", Version: 1, CreatedAt: base, UpdatedAt: base}
						store[slots[k]] = ch.Secret
					case (i/2)%3 == 0:
						ch = broker.ListChange{Secret: broker.Secret{ID: cur.ID}, Deleted: true}
						delete(store, cur.ID)
					default:
						cur.Version++
						ch.Secret = cur
						store[cur.ID] = cur
					}
				} else {
					switch id := fmt.Sprintf("sec-w%d-%d", w, i/6); i % 6 {
					case 0: // create
						ch.Secret = broker.Secret{ID: id, Name: fmt.Sprintf("W%d_%02d", w, i/6), MaskedValue: "sk-••••••••", Version: 1, CreatedAt: base, UpdatedAt: base}
					case 2: // rotate
						ch.Secret = store[id]
						ch.Secret.Version++
					case 4: // every other secret is deleted again
						if i/6%2 == 0 {
							ch = broker.ListChange{Secret: broker.Secret{ID: id}, Deleted: true}
						} else {
							ch.Secret = store[id]
							ch.Secret.EgressHosts = []string{"api.example.com"}
						}
					}
					if ch.Deleted {
						delete(store, ch.Secret.ID)
						delete(mine, ch.Secret.ID)
					} else {
						store[ch.Secret.ID] = ch.Secret
						mine[ch.Secret.ID] = ch.Secret
					}
				}
				mu.Unlock()
				// The store's answer takes a while to reach the cache.
				time.Sleep(time.Duration(rand.N(200)) * time.Microsecond)
				if err := l.Update(c, "alice", stamp, ch); err != nil {
					errs <- err
					return
				}
				got, _, hit, err := l.Get(c, "alice")
				if err != nil {
					errs <- err
					return
				}
				if !hit {
					continue
				}
				checked.Add(1)
				prefix := fmt.Sprintf("sec-w%d-", w)
				seen := map[string]broker.Secret{}
				for _, sec := range got {
					if len(sec.ID) > len(prefix) && sec.ID[:len(prefix)] == prefix {
						seen[sec.ID] = sec
					}
				}
				if !reflect.DeepEqual(seen, mine) {
					errs <- fmt.Errorf("writer %d after op %d: the cached list shows %+v of its secrets, it left %+v", w, i, seen, mine)
					return
				}
			}
		})
	}
	writersWG.Wait()
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, l := range []broker.ListCache{s.Lists, s.other()} {
		got, hit, err := fill(l)
		must(t, err, "final fill")
		if !hit {
			got, hit, err = fill(l)
			must(t, err, "final Get")
		}
		if !hit || !reflect.DeepEqual(got, snapshot()) {
			t.Fatalf("final cached list = hit %v,\n%+v\nthe store holds\n%+v", hit, got, snapshot())
		}
	}
	if checked.Load() == 0 {
		t.Fatal("no writer ever saw a hit: the check proved nothing")
	}
}
