package vaultx

import (
	"strings"
	"testing"

	"github.com/acme/secretsbroker/broker"
)

func TestCrypto(t *testing.T) {
	b := sharedBroker(t)
	c, ctx := b.c, testCtx(t)
	alice, bob := randID("alice-"), randID("bob-")
	values := []string{"sk-one", "two with spaces and ünïcode", strings.Repeat("x", 4096)}
	var cts []string
	for _, v := range values {
		ct, err := c.Encrypt(ctx, alice, []byte(v))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(ct, "vault:v1:") || strings.Contains(ct, v) {
			t.Fatalf("ciphertext %q", ct)
		}
		cts = append(cts, ct)
	}
	before := c.RoundTrips()
	pts, err := c.DecryptBatch(ctx, alice, cts)
	if err != nil {
		t.Fatal(err)
	}
	if n := c.RoundTrips() - before; n != 1 {
		t.Fatalf("batch decrypt of %d took %d round trips", len(cts), n)
	}
	for i := range values {
		if string(pts[i]) != values[i] {
			t.Fatalf("item %d: %q", i, pts[i])
		}
	}
	if pts, err := c.DecryptBatch(ctx, alice, nil); err != nil || len(pts) != 0 {
		t.Fatalf("empty batch: %v, %v", pts, err)
	}

	// Another user's context cannot decrypt alice's ciphertext, even mixed
	// with bob's own.
	bobCT, _ := c.Encrypt(ctx, bob, []byte("bob's"))
	_, err = c.DecryptBatch(ctx, bob, []string{bobCT, cts[0]})
	wantCode(t, err, broker.CodeForbidden)
	_, err = c.DecryptBatch(ctx, bob, cts[:1])
	wantCode(t, err, broker.CodeForbidden)
	_, err = c.DecryptBatch(ctx, alice, []string{"not a ciphertext"})
	wantCode(t, err, broker.CodeInternal)

	f1, err := c.Fingerprint(ctx, alice, []byte("same"))
	if err != nil {
		t.Fatal(err)
	}
	f2, _ := c.Fingerprint(ctx, alice, []byte("same"))
	f3, _ := c.Fingerprint(ctx, bob, []byte("same"))
	f4, _ := c.Fingerprint(ctx, alice, []byte("other"))
	if f1 != f2 || f1 == f3 || f1 == f4 || !strings.HasPrefix(f1, "hmac:") || len(f1) != len("hmac:")+16 {
		t.Fatalf("fingerprints %q %q %q %q", f1, f2, f3, f4)
	}
}
