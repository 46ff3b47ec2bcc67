package vaultx

import (
	"fmt"
	"testing"
	"time"

	"github.com/acme/secretsbroker/broker"
)

// TestRoundTripsPerOperation pins the number of Vault calls each operation
// makes (the figures the benchmarks report).
func TestRoundTripsPerOperation(t *testing.T) {
	b := sharedBroker(t)
	c, ctx := b.c, testCtx(t)
	user := randID("u-")
	count := func(name string, want int, fn func()) {
		t.Helper()
		before := c.RoundTrips()
		fn()
		got := int(c.RoundTrips() - before)
		t.Logf("%-28s %d round trips", name, got)
		if got != want {
			t.Errorf("%s: %d round trips, want %d", name, got, want)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	w := write(t, b, user, "s0", "NAME0", "value-0")
	count("ReserveName", 1, func() { must(c.ReserveName(ctx, user, "NAME0", "s0")) })
	count("Encrypt+Fingerprint", 2, func() {
		_, err := c.Encrypt(ctx, user, []byte("v"))
		must(err)
		_, err = c.Fingerprint(ctx, user, []byte("v"))
		must(err)
	})
	count("CreateSecret", 2, func() { _, err := c.CreateSecret(ctx, w); must(err) })
	count("UpdateSecret", 2, func() { _, err := c.UpdateSecret(ctx, w, 1); must(err) })
	count("GetSecret", 1, func() { _, err := c.GetSecret(ctx, user, "s0"); must(err) })
	const n = 20
	ids := []string{"s0"}
	for i := 1; i < n; i++ {
		id := fmt.Sprintf("s%d", i)
		_, err := c.CreateSecret(ctx, write(t, b, user, id, fmt.Sprintf("NAME%d", i), fmt.Sprintf("value-%d", i)))
		must(err)
		ids = append(ids, id)
	}
	count(fmt.Sprintf("ListSecrets (%d)", n), 1+n, func() {
		l, err := c.ListSecrets(ctx, user)
		must(err)
		if len(l) != n {
			t.Fatalf("listed %d", len(l))
		}
	})
	count("Versions (2)", 3, func() { _, err := c.Versions(ctx, user, "s0"); must(err) })
	for _, k := range []int{1, n} {
		count(fmt.Sprintf("provision of %d secrets", k), k+1+3, func() {
			cts, err := c.Ciphertexts(ctx, user, ids[:k])
			must(err)
			pts, err := c.DecryptBatch(ctx, user, cts)
			must(err)
			env := map[string]string{}
			for i, p := range pts {
				env[fmt.Sprintf("NAME%d", i)] = string(p)
			}
			_, err = c.Wrap(broker.WithAudit(ctx, broker.Audit{UserID: user}), randID("sb-"), env, time.Minute)
			must(err)
		})
	}
	count("DeleteSecret", 2, func() { must(c.DeleteSecret(ctx, user, "s0")) })
}
