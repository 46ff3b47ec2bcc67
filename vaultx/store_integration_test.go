package vaultx

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/acme/secretsbroker/broker"
)

func TestNameIndex(t *testing.T) {
	b := sharedBroker(t)
	c, ctx := b.c, testCtx(t)
	user := randID("u-")
	if err := c.ReserveName(ctx, user, "OPENAI_API_KEY", "s1"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.ReserveName(ctx, user, "OPENAI_API_KEY", "s2"), broker.CodeConflict)
	// One name per case: the index key is the upper-cased name.
	wantCode(t, c.ReserveName(ctx, user, "openai_api_key", "s2"), broker.CodeConflict)
	if e, err := c.NameOwner(ctx, user, "OpenAI_Api_Key"); err != nil || e.SecretID != "s1" {
		t.Fatalf("NameOwner in another case: %+v, %v", e, err)
	}

	// 20 concurrent reservations of one name: exactly one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, conflicts := 0, 0
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			err := c.ReserveName(ctx, user, "GITHUB_TOKEN", fmt.Sprintf("id-%d", i))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case broker.IsCode(err, broker.CodeConflict):
				conflicts++
			default:
				t.Errorf("ReserveName: %v", err)
			}
		}(i)
	}
	wg.Wait()
	if wins != 1 || conflicts != 19 {
		t.Fatalf("wins=%d conflicts=%d", wins, conflicts)
	}

	e, err := c.NameOwner(ctx, user, "OPENAI_API_KEY")
	if err != nil || e.SecretID != "s1" || e.Version != 1 || e.CreatedAt.IsZero() {
		t.Fatalf("NameOwner: %+v, %v", e, err)
	}
	if err := c.RebindName(ctx, user, "OPENAI_API_KEY", "s3", e); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.RebindName(ctx, user, "OPENAI_API_KEY", "s4", e), broker.CodeConflict) // stale version
	if err := c.ReleaseName(ctx, user, "OPENAI_API_KEY"); err != nil {
		t.Fatal(err)
	}
	if err := c.ReleaseName(ctx, user, "OPENAI_API_KEY"); err != nil {
		t.Fatalf("releasing an absent name: %v", err)
	}
	_, err = c.NameOwner(ctx, user, "OPENAI_API_KEY")
	wantCode(t, err, broker.CodeNotFound)
	if err := c.ReserveName(ctx, user, "OPENAI_API_KEY", "s5"); err != nil {
		t.Fatalf("reserve after release: %v", err)
	}
	wantCode(t, c.ReserveName(ctx, user, "../x", "s"), broker.CodeInvalid)
	wantCode(t, c.ReserveName(ctx, "a/b", "X", "s"), broker.CodeInvalid)
}

// write encrypts and fingerprints value as the service does.
func write(t *testing.T, b *testBroker, user, id, name, value string) broker.SecretWrite {
	t.Helper()
	ctx := testCtx(t)
	ct, err := b.c.Encrypt(ctx, user, []byte(value))
	if err != nil {
		t.Fatal(err)
	}
	fp, err := b.c.Fingerprint(ctx, user, []byte(value))
	if err != nil {
		t.Fatal(err)
	}
	return broker.SecretWrite{UserID: user, SecretID: id, Name: name, Ciphertext: ct, MaskedValue: "mask(" + name + ")", Fingerprint: fp}
}

func TestSecretStoreLifecycle(t *testing.T) {
	b := sharedBroker(t)
	c, ctx := b.c, testCtx(t)
	user := randID("u-")
	id := randID("s-")
	provider := "openai"
	const v1, v2 = "sk-proj-first-plaintext-value-123", "sk-proj-second-plaintext-value-456"

	w1 := write(t, b, user, id, "OPENAI_API_KEY", v1)
	w1.Provider, w1.MaskedValue = &provider, "sk-p••••123"
	s1, err := c.CreateSecret(ctx, w1)
	if err != nil {
		t.Fatal(err)
	}
	if s1.Version != 1 || s1.Name != "OPENAI_API_KEY" || *s1.Provider != "openai" || s1.CreatedAt.IsZero() || s1.UpdatedAt.IsZero() {
		t.Fatalf("created: %+v", s1)
	}
	_, err = c.CreateSecret(ctx, w1)
	wantCode(t, err, broker.CodeConflict)

	// Vault's own client sees ciphertext and metadata only.
	raw, err := b.admin.Logical().ReadWithContext(ctx, "broker/data/users/"+user+"/secrets/"+id)
	if err != nil || raw == nil {
		t.Fatalf("direct read: %v", err)
	}
	data := raw.Data["data"].(map[string]any)
	if ct, _ := data["ciphertext"].(string); !strings.HasPrefix(ct, "vault:v1:") {
		t.Fatalf("stored ciphertext %q", ct)
	}
	meta, err := b.admin.Logical().ReadWithContext(ctx, "broker/metadata/users/"+user+"/secrets/"+id)
	if err != nil {
		t.Fatal(err)
	}
	cm := meta.Data["custom_metadata"].(map[string]any)
	if cm["name"] != "OPENAI_API_KEY" || cm["provider"] != "openai" || cm["masked_value"] != "sk-p••••123" || cm["version"] != "1" || !strings.HasPrefix(cm["fingerprint"].(string), "hmac:") {
		t.Fatalf("custom_metadata: %v", cm)
	}
	for _, dump := range []any{raw.Data, meta.Data} {
		js, _ := json.Marshal(dump)
		if strings.Contains(string(js), v1) || strings.Contains(string(js), "first-plaintext") {
			t.Fatalf("plaintext stored in Vault: %s", js)
		}
	}

	// Update with check-and-set.
	w2 := write(t, b, user, id, "OPENAI_API_KEY", v2)
	w2.Provider = &provider
	s2, err := c.UpdateSecret(ctx, w2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if s2.Version != 2 || !s2.CreatedAt.Equal(s1.CreatedAt) || !s2.UpdatedAt.After(s1.UpdatedAt) || s2.Fingerprint == s1.Fingerprint {
		t.Fatalf("updated: %+v (created %+v)", s2, s1)
	}
	_, err = c.UpdateSecret(ctx, w2, 1)
	wantCode(t, err, broker.CodeConflict)
	ghost := w2
	ghost.SecretID = randID("s-")
	_, err = c.UpdateSecret(ctx, ghost, 1)
	wantCode(t, err, broker.CodeNotFound)
	if _, gerr := c.GetSecret(ctx, user, ghost.SecretID); !errors.Is(gerr, broker.ErrSecretNotFound) {
		t.Fatalf("GetSecret of an absent id: %v, want errors.Is ErrSecretNotFound", gerr)
	}

	g, err := c.GetSecret(ctx, user, id)
	if err != nil || g.Version != 2 || g.MaskedValue != w2.MaskedValue || g.Fingerprint != w2.Fingerprint ||
		!g.CreatedAt.Equal(s1.CreatedAt) || !g.UpdatedAt.Equal(s2.UpdatedAt) || g.Provider == nil || *g.Provider != "openai" {
		t.Fatalf("get: %+v, %v (want %+v)", g, err, s2)
	}

	// Metadata left describing an older version (a concurrent writer
	// reordered): readers fall back to the current version's data.
	stale := map[string]any{"name": "OPENAI_API_KEY", "provider": "openai", "masked_value": "stale", "fingerprint": "hmac:stale", "version": "1", "created_at": cm["created_at"]}
	if _, err := b.admin.Logical().WriteWithContext(ctx, "broker/metadata/users/"+user+"/secrets/"+id, map[string]any{"custom_metadata": stale}); err != nil {
		t.Fatal(err)
	}
	g, err = c.GetSecret(ctx, user, id)
	if err != nil || g.MaskedValue != w2.MaskedValue || g.Fingerprint != w2.Fingerprint {
		t.Fatalf("get with stale metadata: %+v, %v", g, err)
	}

	// Versions, and an old version's ciphertext.
	vs, err := c.Versions(ctx, user, id)
	if err != nil || len(vs) != 2 || vs[0].Version != 1 || vs[0].Current || !vs[1].Current ||
		vs[0].MaskedValue != w1.MaskedValue || vs[1].Fingerprint != w2.Fingerprint {
		t.Fatalf("versions: %+v, %v", vs, err)
	}
	ct1, err := c.VersionCiphertext(ctx, user, id, 1)
	if err != nil {
		t.Fatal(err)
	}
	pts, err := c.DecryptBatch(ctx, user, []string{ct1})
	if err != nil || string(pts[0]) != v1 {
		t.Fatalf("version 1 decrypts to %q, %v", pts, err)
	}
	_, err = c.VersionCiphertext(ctx, user, id, 9)
	wantCode(t, err, broker.CodeNotFound)

	// List and count (metadata only).
	id2, id3 := randID("s-"), randID("s-")
	for _, w := range []broker.SecretWrite{write(t, b, user, id2, "ANTHROPIC_API_KEY", "value-two"), write(t, b, user, id3, "GITHUB_TOKEN", "value-three")} {
		if _, err := c.CreateSecret(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	list, err := c.ListSecrets(ctx, user)
	if err != nil || len(list) != 3 || list[0].ID != id || list[0].Version != 2 || list[0].MaskedValue != w2.MaskedValue {
		t.Fatalf("list: %+v, %v", list, err)
	}
	if n, err := c.CountSecrets(ctx, user); err != nil || n != 3 {
		t.Fatalf("count: %d, %v", n, err)
	}
	cts, err := c.Ciphertexts(ctx, user, []string{id3, id})
	if err != nil || len(cts) != 2 {
		t.Fatal(err)
	}
	pts, err = c.DecryptBatch(ctx, user, cts)
	if err != nil || string(pts[0]) != "value-three" || string(pts[1]) != v2 {
		t.Fatalf("decrypted %q, %v", pts, err)
	}
	_, err = c.Ciphertexts(ctx, user, []string{id, randID("s-")})
	wantCode(t, err, broker.CodeNotFound)
	_, err = c.Ciphertexts(ctx, randID("other-"), []string{id})
	wantCode(t, err, broker.CodeNotFound)

	// Delete.
	if err := c.DeleteSecret(ctx, user, id); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetSecret(ctx, user, id)
	wantCode(t, err, broker.CodeNotFound)
	wantCode(t, c.DeleteSecret(ctx, user, id), broker.CodeNotFound)
	_, err = c.Versions(ctx, user, id)
	wantCode(t, err, broker.CodeNotFound)
	if n, _ := c.CountSecrets(ctx, user); n != 2 {
		t.Fatalf("count after delete: %d", n)
	}
	_, err = c.GetSecret(ctx, user, "../../sys")
	wantCode(t, err, broker.CodeInvalid)
}

func TestConcurrentUpdatesLoseNothing(t *testing.T) {
	b := sharedBroker(t)
	c, ctx := b.c, testCtx(t)
	user, id := randID("u-"), randID("s-")
	if _, err := c.CreateSecret(ctx, write(t, b, user, id, "TOKEN", "v0")); err != nil {
		t.Fatal(err)
	}
	const writers = 20
	w := write(t, b, user, id, "TOKEN", "v-next")
	var wg sync.WaitGroup
	versions := make(chan int, writers)
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for attempt := 0; attempt < 200; attempt++ {
				cur, err := c.GetSecret(ctx, user, id)
				if err != nil {
					t.Error(err)
					return
				}
				s, err := c.UpdateSecret(ctx, w, cur.Version)
				if broker.IsCode(err, broker.CodeConflict) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				versions <- s.Version
				return
			}
			t.Error("gave up after 200 conflicts")
		}()
	}
	wg.Wait()
	close(versions)
	seen := map[int]bool{}
	for v := range versions {
		if seen[v] {
			t.Fatalf("version %d returned twice", v)
		}
		seen[v] = true
	}
	g, err := c.GetSecret(ctx, user, id)
	if err != nil || len(seen) != writers || g.Version != writers+1 {
		t.Fatalf("%d successful updates, final version %d, %v", len(seen), g.Version, err)
	}
}

func TestAPIKeys(t *testing.T) {
	b := sharedBroker(t)
	c, ctx := b.c, testCtx(t)
	user := randID("u-")
	h1 := strings.Repeat("a1", 32)
	h2 := strings.Repeat("b2", 32)
	if err := c.PutAPIKey(ctx, broker.APIKey{ID: h1, UserID: user, Label: "laptop"}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.PutAPIKey(ctx, broker.APIKey{ID: h1, UserID: user}), broker.CodeConflict)
	if err := c.PutAPIKey(ctx, broker.APIKey{ID: h2, UserID: user, Label: "ci"}); err != nil {
		t.Fatal(err)
	}
	k, err := c.GetAPIKey(ctx, h1)
	if err != nil || k.UserID != user || k.Label != "laptop" || k.CreatedAt.IsZero() {
		t.Fatalf("get: %+v, %v", k, err)
	}
	ks, err := c.ListAPIKeys(ctx, user)
	if err != nil || len(ks) != 2 {
		t.Fatalf("list: %+v, %v", ks, err)
	}
	if err := c.DeleteAPIKey(ctx, h1); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetAPIKey(ctx, h1)
	wantCode(t, err, broker.CodeNotFound)
	wantCode(t, c.DeleteAPIKey(ctx, h1), broker.CodeNotFound)
	if ks, _ := c.ListAPIKeys(ctx, user); len(ks) != 1 || ks[0].ID != h2 {
		t.Fatalf("list after delete: %+v", ks)
	}
	_, err = c.GetAPIKey(ctx, "not-a-hash")
	wantCode(t, err, broker.CodeInvalid)
}
