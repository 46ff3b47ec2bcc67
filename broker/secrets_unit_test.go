package broker

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

var bg = context.Background()

const alice, bob = "alice", "bob"

// TestCreateSecretStoresOnlyCiphertext: the store receives the ciphertext,
// the mask and the fingerprint, never the value; the answer shows the mask.
func TestCreateSecretStoresOnlyCiphertext(t *testing.T) {
	w := newWorld(t, Config{}, false)
	const value = "sk-proj-0123456789abcdefghij"
	prov := "openai"
	sec, err := w.svc.CreateSecret(bg, alice, CreateSecretInput{Name: "OPENAI_API_KEY", Value: value, Provider: &prov})
	if err != nil {
		t.Fatal(err)
	}
	if !ValidID(sec.ID) || sec.Name != "OPENAI_API_KEY" || sec.Version != 1 || *sec.Provider != "openai" {
		t.Fatalf("created %+v", sec)
	}
	if sec.MaskedValue != Mask(value) || strings.Contains(sec.MaskedValue, value) || !strings.HasPrefix(sec.Fingerprint, "fp:") {
		t.Fatalf("preview %q fingerprint %q", sec.MaskedValue, sec.Fingerprint)
	}
	if len(w.secrets.writes) != 1 {
		t.Fatalf("%d writes", len(w.secrets.writes))
	}
	wr := w.secrets.writes[0]
	if wr.Ciphertext == "" || strings.Contains(wr.Ciphertext, value) || strings.Contains(wr.MaskedValue, value) {
		t.Fatalf("the value reached the store: %+v", wr)
	}
	if e, err := w.secrets.NameOwner(bg, alice, "OPENAI_API_KEY"); err != nil || e.SecretID != sec.ID {
		t.Fatalf("name index %+v %v", e, err)
	}
	if w.cache.count("Stamp") != 1 || w.cache.count("Update") != 1 {
		t.Fatalf("list cache not told of the create: %d stamps, %d updates", w.cache.count("Stamp"), w.cache.count("Update"))
	}
}

// TestCreateSecretValidation: every bad field is listed at once, the value
// is never quoted, and nothing is written or encrypted.
func TestCreateSecretValidation(t *testing.T) {
	w := newWorld(t, Config{Limits: Limits{MaxValueBytes: 16}}, false)
	bad := "not a provider!"
	_, err := w.svc.CreateSecret(bg, alice, CreateSecretInput{Name: "PATH", Value: "secret-value-longer-than-16", Provider: &bad})
	wantCode(t, err, CodeInvalid)
	var be *Error
	errors.As(err, &be)
	var fields []string
	for _, f := range be.Fields {
		fields = append(fields, f.Field)
	}
	if !slices.Equal(fields, []string{"name", "value", "provider"}) {
		t.Fatalf("fields %v, want name, value, provider", be.Fields)
	}
	if strings.Contains(err.Error(), "secret-value") {
		t.Fatalf("the error quotes the value: %v", err)
	}
	for _, in := range []CreateSecretInput{{Name: "", Value: "v"}, {Name: "A", Value: ""}, {Name: "A", Value: "a\x00b"}, {Name: "A", Value: "\xff"}, {Name: "LD_PRELOAD", Value: "v"}} {
		_, err := w.svc.CreateSecret(bg, alice, in)
		wantCode(t, err, CodeInvalid)
	}
	_, err = w.svc.CreateSecret(bg, "bad user/..", CreateSecretInput{Name: "A", Value: "v"})
	wantCode(t, err, CodeUnauthenticated)
	if n := w.crypto.count("Encrypt") + w.secrets.count("ReserveName") + w.secrets.count("CreateSecret"); n != 0 {
		t.Fatalf("invalid input reached the adapters %d times", n)
	}
}

func TestCreateSecretNameTaken(t *testing.T) {
	w := newWorld(t, Config{}, false)
	w.mustCreate(t, alice, "A", "v1")
	_, err := w.svc.CreateSecret(bg, alice, CreateSecretInput{Name: "A", Value: "v2"})
	wantCode(t, err, CodeConflict)
	if !strings.Contains(err.Error(), "a secret named A already exists") {
		t.Fatalf("conflict message %q", err)
	}
	// Names are per user.
	w.mustCreate(t, bob, "A", "v3")
}

// TestCreateSecretOrphanedName: a reservation whose secret was never
// written is taken over once older than NameGrace, not before.
func TestCreateSecretOrphanedName(t *testing.T) {
	w := newWorld(t, Config{NameGrace: time.Minute}, false)
	if err := w.secrets.ReserveName(bg, alice, "A", NewID()); err != nil {
		t.Fatal(err)
	}
	_, err := w.svc.CreateSecret(bg, alice, CreateSecretInput{Name: "A", Value: "v"})
	wantCode(t, err, CodeConflict)
	w.clock.Add(61 * time.Second)
	sec := w.mustCreate(t, alice, "A", "v")
	if e, _ := w.secrets.NameOwner(bg, alice, "A"); e.SecretID != sec.ID || e.Version != 2 {
		t.Fatalf("name entry %+v, want rebound to %s", e, sec.ID)
	}
	// A name released between the conflict and the lookup is retried once.
	w.secrets.setHook(func(m string) error {
		if m == "ReserveName" && w.secrets.count("ReserveName") == 3 {
			return Errorf(CodeConflict, "taken")
		}
		return nil
	})
	w.mustCreate(t, alice, "B", "v")
}

// TestCreateSecretFailureReleasesName: when the write fails the name is
// freed, so the next create can take it.
func TestCreateSecretFailureReleasesName(t *testing.T) {
	w := newWorld(t, Config{}, false)
	w.secrets.setHook(failOn(Errorf(CodeUnavailable, "vault sealed"), "CreateSecret"))
	_, err := w.svc.CreateSecret(bg, alice, CreateSecretInput{Name: "A", Value: "v"})
	wantCode(t, err, CodeUnavailable)
	if _, err := w.secrets.NameOwner(bg, alice, "A"); !IsCode(err, CodeNotFound) {
		t.Fatalf("name still reserved: %v", err)
	}
	w.secrets.setHook(nil)
	w.mustCreate(t, alice, "A", "v")

	// An encryption failure reserves nothing.
	w.crypto.setHook(failOn(Errorf(CodeUnavailable, "transit down"), "Fingerprint"))
	_, err = w.svc.CreateSecret(bg, alice, CreateSecretInput{Name: "B", Value: "v"})
	wantCode(t, err, CodeUnavailable)
	if _, err := w.secrets.NameOwner(bg, alice, "B"); !IsCode(err, CodeNotFound) {
		t.Fatalf("name reserved after a failed seal: %v", err)
	}
}

// TestSecretsPerUserCap: creates past MaxSecretsPerUser are refused.
func TestSecretsPerUserCap(t *testing.T) {
	w := newWorld(t, Config{Limits: Limits{MaxSecretsPerUser: 3}}, false)
	for _, n := range []string{"A", "B", "C"} {
		w.mustCreate(t, alice, n, "v")
	}
	_, err := w.svc.CreateSecret(bg, alice, CreateSecretInput{Name: "D", Value: "v"})
	wantCode(t, err, CodeInvalid)
	if !strings.Contains(err.Error(), "you already have 3 secrets") {
		t.Fatalf("cap message %q", err)
	}
	w.mustCreate(t, bob, "D", "v")
	w.secrets.setHook(failOn(Errorf(CodeUnavailable, "down"), "CountSecrets"))
	_, err = w.svc.CreateSecret(bg, bob, CreateSecretInput{Name: "E", Value: "v"})
	wantCode(t, err, CodeUnavailable)
}

// TestGetSecretOwnership: an id of another user answers exactly like an
// absent one, and a malformed id never reaches the store.
func TestGetSecretOwnership(t *testing.T) {
	w := newWorld(t, Config{}, false)
	sec := w.mustCreate(t, alice, "A", "v")
	if got, err := w.svc.GetSecret(bg, alice, sec.ID); err != nil || got.ID != sec.ID {
		t.Fatalf("own secret: %+v %v", got, err)
	}
	_, errOther := w.svc.GetSecret(bg, bob, sec.ID)
	_, errAbsent := w.svc.GetSecret(bg, bob, NewID())
	wantCode(t, errOther, CodeNotFound)
	if errOther.Error() != errAbsent.Error() {
		t.Fatalf("other's %q and absent %q differ", errOther, errAbsent)
	}
	before := w.secrets.count("GetSecret")
	_, err := w.svc.GetSecret(bg, alice, "../../sys/policy")
	wantCode(t, err, CodeNotFound)
	if w.secrets.count("GetSecret") != before {
		t.Fatalf("a malformed id reached the store")
	}
}

// TestListSecretsCache: sorted by name; the second list is a cache hit; a
// write invalidates; a list read before a concurrent write is not cached;
// a cache outage degrades to the store.
func TestListSecretsCache(t *testing.T) {
	w := newWorld(t, Config{}, false)
	for _, n := range []string{"C", "A", "B"} {
		w.mustCreate(t, alice, n, "v")
	}
	for i := range 2 {
		list, err := w.svc.ListSecrets(bg, alice)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, s := range list {
			names = append(names, s.Name)
		}
		if !slices.Equal(names, []string{"A", "B", "C"}) {
			t.Fatalf("list %d: %v", i, names)
		}
	}
	if w.secrets.count("ListSecrets") != 1 || w.obs.cacheHits != 1 || w.obs.cacheMisses != 1 {
		t.Fatalf("store lists %d, hits %d, misses %d", w.secrets.count("ListSecrets"), w.obs.cacheHits, w.obs.cacheMisses)
	}
	w.mustCreate(t, alice, "D", "v")
	if list, _ := w.svc.ListSecrets(bg, alice); len(list) != 4 {
		t.Fatalf("stale list after a create: %d", len(list))
	}
	// A write between the store read and the cache put wins.
	w.cache.Invalidate(bg, alice)
	w.secrets.setHook(func(m string) error {
		if m == "ListSecrets" {
			w.cache.Invalidate(bg, alice)
		}
		return nil
	})
	w.svc.ListSecrets(bg, alice)
	if _, _, hit, _ := w.cache.Get(bg, alice); hit {
		t.Fatalf("a list read before a concurrent write was cached")
	}
	w.secrets.setHook(nil)
	w.cache.setHook(failOn(Errorf(CodeUnavailable, "redis down"), "Get", "Put", "Invalidate"))
	if list, err := w.svc.ListSecrets(bg, alice); err != nil || len(list) != 4 {
		t.Fatalf("cache down: %d %v", len(list), err)
	}
	if len(*w.warns) == 0 || !strings.HasPrefix((*w.warns)[0], "list_cache: ") {
		t.Fatalf("cache outage not reported: %v", *w.warns)
	}
	_, err := w.svc.ListSecrets(bg, "")
	wantCode(t, err, CodeUnauthenticated)
}

// TestUpdateSecret: a new version with a new preview; a lost check-and-set
// race is retried against the fresh version; a writer that always wins
// makes the update answer conflict.
func TestUpdateSecret(t *testing.T) {
	w := newWorld(t, Config{}, false)
	sec := w.mustCreate(t, alice, "A", "first-value-0123456789")
	up, err := w.svc.UpdateSecret(bg, alice, sec.ID, "second-value-0123456789")
	if err != nil || up.Version != 2 || up.MaskedValue != Mask("second-value-0123456789") || up.Fingerprint == sec.Fingerprint {
		t.Fatalf("update: %+v %v", up, err)
	}
	// Lose two races: another writer bumps the version before each write.
	races := 0
	w.secrets.setHook(func(m string) error {
		if m == "UpdateSecret" && races < 2 {
			races++
			w.secrets.mu.Lock()
			w.secrets.secrets[alice+"/"+sec.ID].meta.Version++
			w.secrets.secrets[alice+"/"+sec.ID].versions = append(w.secrets.secrets[alice+"/"+sec.ID].versions, memVersion{ct: "x"})
			w.secrets.mu.Unlock()
		}
		return nil
	})
	up, err = w.svc.UpdateSecret(bg, alice, sec.ID, "third-value")
	if err != nil || up.Version != 5 || w.secrets.count("UpdateSecret") != 4 {
		t.Fatalf("after two lost races: %+v %v (%d writes)", up, err, w.secrets.count("UpdateSecret"))
	}
	w.secrets.setHook(failOn(Errorf(CodeConflict, "cas"), "UpdateSecret"))
	_, err = w.svc.UpdateSecret(bg, alice, sec.ID, "fourth")
	wantCode(t, err, CodeConflict)
	if n := w.secrets.count("UpdateSecret"); n != 4+maxCASAttempts {
		t.Fatalf("%d write attempts, want %d", n-4, maxCASAttempts)
	}
	w.secrets.setHook(nil)
	_, err = w.svc.UpdateSecret(bg, alice, sec.ID, "")
	wantCode(t, err, CodeInvalid)
	_, err = w.svc.UpdateSecret(bg, bob, sec.ID, "v")
	wantCode(t, err, CodeNotFound)
	_, err = w.svc.UpdateSecret(bg, alice, "nope", "v")
	wantCode(t, err, CodeNotFound)
	_, err = w.svc.UpdateSecret(bg, "", sec.ID, "v")
	wantCode(t, err, CodeUnauthenticated)
	// Deleted between the read and the write.
	w.secrets.setHook(failOn(notFound(), "UpdateSecret"))
	_, err = w.svc.UpdateSecret(bg, alice, sec.ID, "v")
	wantCode(t, err, CodeNotFound)
	// Cancelled while retrying.
	ctx, cancel := context.WithCancel(bg)
	w.secrets.setHook(func(m string) error {
		if m == "UpdateSecret" {
			cancel()
			return Errorf(CodeConflict, "cas")
		}
		return nil
	})
	_, err = w.svc.UpdateSecret(ctx, alice, sec.ID, "v")
	wantCode(t, err, CodeUnavailable)
}

// TestDeleteSecret frees the name, and a second delete is not_found.
func TestDeleteSecret(t *testing.T) {
	w := newWorld(t, Config{}, false)
	sec := w.mustCreate(t, alice, "A", "v")
	wantCode(t, w.svc.DeleteSecret(bg, bob, sec.ID), CodeNotFound)
	if err := w.svc.DeleteSecret(bg, alice, sec.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := w.secrets.NameOwner(bg, alice, "A"); !IsCode(err, CodeNotFound) {
		t.Fatalf("name not freed: %v", err)
	}
	wantCode(t, w.svc.DeleteSecret(bg, alice, sec.ID), CodeNotFound)
	w.mustCreate(t, alice, "A", "again")

	// A name index that cannot be cleaned is repaired later: the delete
	// still succeeds, and says so in a warning.
	sec = w.mustCreate(t, alice, "B", "v")
	w.secrets.setHook(failOn(Errorf(CodeUnavailable, "down"), "ReleaseName"))
	if err := w.svc.DeleteSecret(bg, alice, sec.ID); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(*w.warns, func(s string) bool { return strings.HasPrefix(s, "name_index: ") }) {
		t.Fatalf("no warning: %v", *w.warns)
	}
	w.secrets.setHook(failOn(notFound(), "DeleteSecret"))
	sec = w.mustCreate(t, alice, "C", "v")
	wantCode(t, w.svc.DeleteSecret(bg, alice, sec.ID), CodeNotFound)
}

// TestVersionsAndRollback: rollback makes an old value current as a new
// version, reusing its ciphertext.
func TestVersionsAndRollback(t *testing.T) {
	w := newWorld(t, Config{}, false)
	sec := w.mustCreate(t, alice, "A", "value-one-0123456789")
	if _, err := w.svc.UpdateSecret(bg, alice, sec.ID, "value-two-0123456789"); err != nil {
		t.Fatal(err)
	}
	rb, err := w.svc.Rollback(bg, alice, sec.ID, 1)
	if err != nil || rb.Version != 3 || rb.MaskedValue != Mask("value-one-0123456789") || rb.Fingerprint != sec.Fingerprint {
		t.Fatalf("rollback: %+v %v", rb, err)
	}
	vs, err := w.svc.Versions(bg, alice, sec.ID)
	if err != nil || len(vs) != 3 || !vs[2].Current || vs[0].Current {
		t.Fatalf("versions %+v %v", vs, err)
	}
	cts, _ := w.secrets.Ciphertexts(bg, alice, []string{sec.ID})
	if first, _ := w.secrets.VersionCiphertext(bg, alice, sec.ID, 1); cts[0] != first {
		t.Fatalf("rollback did not reuse the ciphertext")
	}
	for _, v := range []int{0, -1, 9} {
		_, err := w.svc.Rollback(bg, alice, sec.ID, v)
		wantCode(t, err, CodeInvalid)
	}
	_, err = w.svc.Rollback(bg, bob, sec.ID, 1)
	wantCode(t, err, CodeNotFound)
	_, err = w.svc.Versions(bg, bob, sec.ID)
	wantCode(t, err, CodeNotFound)
	w.crypto.setHook(failOn(Errorf(CodeForbidden, "other context"), "DecryptBatch"))
	_, err = w.svc.Rollback(bg, alice, sec.ID, 1)
	wantCode(t, err, CodeForbidden)
	w.crypto.setHook(failOn(Errorf(CodeUnavailable, "down"), "Fingerprint"))
	_, err = w.svc.Rollback(bg, alice, sec.ID, 1)
	wantCode(t, err, CodeUnavailable)
	w.secrets.setHook(failOn(Errorf(CodeUnavailable, "down"), "VersionCiphertext"))
	_, err = w.svc.Rollback(bg, alice, sec.ID, 1)
	wantCode(t, err, CodeUnavailable)
}

func TestPresets(t *testing.T) {
	w := newWorld(t, Config{}, false)
	sec, err := w.svc.CreateFromPreset(bg, alice, "github", "ghp_0123456789")
	if err != nil || sec.Name != "GITHUB_TOKEN" || sec.Provider == nil || *sec.Provider != "github" {
		t.Fatalf("preset create: %+v %v", sec, err)
	}
	ps, err := w.svc.Presets(bg, alice)
	if err != nil || len(ps) != len(DefaultPresets()) {
		t.Fatalf("presets %+v %v", ps, err)
	}
	for _, p := range ps {
		if p.Configured != (p.Provider == "github") {
			t.Errorf("preset %s configured=%v", p.Provider, p.Configured)
		}
	}
	if DefaultPresets()[2].Configured {
		t.Fatalf("Presets changed the defaults")
	}
	_, err = w.svc.CreateFromPreset(bg, alice, "nope", "v")
	wantCode(t, err, CodeInvalid)
	if !strings.Contains(err.Error(), "known presets: openai, anthropic, github") {
		t.Fatalf("unknown preset message %q", err)
	}
	_, err = w.svc.CreateFromPreset(bg, alice, "github", "again")
	wantCode(t, err, CodeConflict)
	w.secrets.setHook(failOn(Errorf(CodeUnavailable, "down"), "ListSecrets"))
	w.cache.Invalidate(bg, alice)
	_, err = w.svc.Presets(bg, alice)
	wantCode(t, err, CodeUnavailable)
}

func TestNewServiceDefaults(t *testing.T) {
	s := NewService(Config{WrapTTL: 3 * time.Hour}, Deps{})
	if s.WrapTTL() != time.Hour {
		t.Fatalf("WrapTTL %v, want capped at the default MaxWrapTTL of 1h", s.WrapTTL())
	}
	if s = NewService(Config{}, Deps{}); s.WrapTTL() != 5*time.Minute || s.Validator().Limits().MaxSecretsPerUser != 500 {
		t.Fatalf("defaults: %v %+v", s.WrapTTL(), s.Validator().Limits())
	}
	if s = NewService(Config{WrapTTL: 10 * time.Minute, MaxWrapTTL: 2 * time.Hour}, Deps{}); s.WrapTTL() != 10*time.Minute {
		t.Fatalf("WrapTTL %v", s.WrapTTL())
	}
}
