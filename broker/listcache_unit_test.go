package broker

import (
	"encoding/json"
	"testing"
)

// listMatchesStore fails unless the service's list of alice's secrets equals a
// fresh read of the store, and reports whether the list read the store.
func (w *world) listMatchesStore(t *testing.T, what string) (storeRead bool) {
	t.Helper()
	before := w.secrets.count("ListSecrets")
	got, err := w.svc.ListSecrets(bg, alice)
	if err != nil {
		t.Fatalf("%s: list: %v", what, err)
	}
	storeRead = w.secrets.count("ListSecrets") != before
	want, err := w.secrets.ListSecrets(bg, alice)
	if err != nil {
		t.Fatal(err)
	}
	SortSecrets(want)
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	if string(gj) != string(wj) {
		t.Fatalf("%s: listed\n%s\nthe store holds\n%s", what, gj, wj)
	}
	return storeRead
}

// TestListCacheWriteThrough: create, rotate, rollback, egress_hosts and
// delete update the cached list in place (the next list reads no store and
// equals the store's); a write that another write overtook between its
// stamp read and its cache update, a failed cache update, an unreadable
// stamp and a store write that may have landed all drop the list.
func TestListCacheWriteThrough(t *testing.T) {
	w := newWorld(t, Config{}, false)
	a := w.mustCreate(t, alice, "B", "first-value-0123456789")
	w.mustCreate(t, alice, "C", "v")
	if !w.listMatchesStore(t, "first list") {
		t.Fatal("the first list did not read the store")
	}
	hosts := []string{"api.example.com"}
	steps := []struct {
		name  string
		write func() error
	}{
		{"create", func() error {
			_, err := w.svc.CreateSecret(bg, alice, CreateSecretInput{Name: "A", Value: "v"})
			return err
		}},
		{"rotate", func() error { _, err := w.svc.UpdateSecret(bg, alice, a.ID, "second-value-0123456789"); return err }},
		{"rollback", func() error { _, err := w.svc.Rollback(bg, alice, a.ID, 1); return err }},
		{"egress hosts", func() error {
			_, err := w.svc.UpdateSecretWith(bg, alice, a.ID, UpdateSecretInput{EgressHosts: &hosts})
			return err
		}},
		{"delete", func() error { return w.svc.DeleteSecret(bg, alice, a.ID) }},
	}
	for _, st := range steps {
		if err := st.write(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if w.listMatchesStore(t, "list after "+st.name) {
			t.Errorf("the list after a %s read the store", st.name)
		}
	}
	if n := w.cache.count("Invalidate"); n != 0 {
		t.Fatalf("%d invalidations", n)
	}

	// Another replica's write lands between this write's stamp read and its
	// cache update: the update must drop the list, not patch it.
	w.secrets.setHook(func(m string) error {
		if m == "CreateSecret" {
			w.secrets.setHook(nil)
			w.mustCreate(t, alice, "D", "v") // updates the list in place
			if _, _, hit, _ := w.cache.Get(bg, alice); !hit {
				t.Error("the overtaking write did not keep the list")
			}
		}
		return nil
	})
	if _, err := w.svc.CreateSecret(bg, alice, CreateSecretInput{Name: "E", Value: "v"}); err != nil {
		t.Fatal(err)
	}
	if _, _, hit, _ := w.cache.Get(bg, alice); hit {
		t.Fatal("a write overtaken between its stamp and its update patched the list")
	}
	if !w.listMatchesStore(t, "list after overlapping writes") {
		t.Fatal("the list after overlapping writes did not read the store")
	}

	for _, c := range []struct {
		name    string
		method  string // of the cache or the store, failing unavailable
		onStore bool
		wantErr bool
	}{
		{"update fails", "Update", false, false},
		{"stamp fails", "Stamp", false, false},
		{"store write times out", "UpdateSecret", true, true},
	} {
		w.listMatchesStore(t, "warm") // refill
		inv := w.cache.count("Invalidate")
		down := failOn(Errorf(CodeUnavailable, "down"), c.method)
		if c.onStore {
			w.secrets.setHook(down)
		} else {
			w.cache.setHook(down)
		}
		_, err := w.svc.UpdateSecret(bg, alice, w.firstID(t), "third-value-0123456789")
		w.secrets.setHook(nil)
		w.cache.setHook(nil)
		if (err != nil) != c.wantErr {
			t.Fatalf("%s: rotate: %v", c.name, err)
		}
		if w.cache.count("Invalidate") != inv+1 {
			t.Fatalf("%s: the list was not invalidated", c.name)
		}
		if !w.listMatchesStore(t, "list after "+c.name) {
			t.Fatalf("%s: the next list did not read the store", c.name)
		}
	}
	// A lost check-and-set (conflict) changes nothing: no invalidation.
	inv := w.cache.count("Invalidate")
	w.secrets.setHook(failOn(Errorf(CodeConflict, "cas"), "UpdateSecret"))
	if _, err := w.svc.UpdateSecret(bg, alice, w.firstID(t), "x"); !IsCode(err, CodeConflict) {
		t.Fatalf("rotate losing every race: %v", err)
	}
	w.secrets.setHook(nil)
	if w.cache.count("Invalidate") != inv {
		t.Fatal("a conflict invalidated the list")
	}
}

// firstID is the id of one of alice's secrets.
func (w *world) firstID(t *testing.T) string {
	t.Helper()
	l, err := w.secrets.ListSecrets(bg, alice)
	if err != nil || len(l) == 0 {
		t.Fatalf("no secret: %v", err)
	}
	return l[0].ID
}
