package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/client"
	"github.com/acme/secretsbroker/redisx"
)

// listAfterWrite is the number of secrets TestListAfterWriteNoVault and
// BenchmarkListAfterCreate list right after a create (the per-user cap).
const listAfterWrite = 500

// withRedisCache gives the fixture a service whose list cache is Redis, as
// brokerd with REDIS_URL has.
func (f fixture) withRedisCache(tb testing.TB) fixture {
	tb.Helper()
	rc, err := redisx.New(context.Background(), shared.Redis(tb).URL, redisx.Options{}, zerolog.Nop())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = rc.Close() })
	f.svc = broker.NewService(broker.Config{SandboxVaultAddr: "http://vault"},
		broker.Deps{Secrets: f.vc, Crypto: f.vc, Boot: f.vc, Records: rc, Cache: rc.ListCache()})
	return f
}

// seedParallel creates n secrets for user, 8 at a time, with create.
func seedParallel(tb testing.TB, n int, create func(i int) error) {
	tb.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				if err := create(i); err != nil {
					errs <- err
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
}

// TestListAfterWriteNoVault: with 500 secrets and a warm list (Redis), the
// list right after a create, rotate, rollback, egress_hosts change or
// delete makes no Vault call and equals a fresh list from Vault.
func TestListAfterWriteNoVault(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 500 secrets")
	}
	f := newFixture(t).withRedisCache(t)
	ctx := context.Background()
	user := fmt.Sprintf("lc-write-%d", time.Now().UnixNano())
	seedParallel(t, listAfterWrite-1, func(i int) error {
		_, err := f.svc.CreateSecret(ctx, user, broker.CreateSecretInput{
			Name: fmt.Sprintf("SEED_%03d", i), Value: fmt.Sprintf("sk-seed-%03d-0123456789abcdef", i)})
		return err
	})
	start := f.vc.RoundTrips()
	if _, err := f.svc.ListSecrets(ctx, user); err != nil {
		t.Fatal(err)
	}
	if got := f.vc.RoundTrips() - start; got < listAfterWrite-1 {
		t.Fatalf("the cold list made %d Vault round trips: the counter does not count", got)
	}

	var sec broker.Secret
	hosts := []string{"api.example.com"}
	steps := []struct {
		name  string
		write func() error
		n     int // secrets listed after it
	}{
		{"create", func() (err error) {
			sec, err = f.svc.CreateSecret(ctx, user, broker.CreateSecretInput{Name: "NEW_SECRET", Value: "sk-new-0123456789abcdef"})
			return err
		}, listAfterWrite},
		{"rotate", func() error {
			_, err := f.svc.UpdateSecret(ctx, user, sec.ID, "sk-rotated-0123456789abcdef")
			return err
		}, listAfterWrite},
		{"rollback", func() error { _, err := f.svc.Rollback(ctx, user, sec.ID, 1); return err }, listAfterWrite},
		{"egress hosts", func() error {
			_, err := f.svc.UpdateSecretWith(ctx, user, sec.ID, broker.UpdateSecretInput{EgressHosts: &hosts})
			return err
		}, listAfterWrite},
		{"delete", func() error { return f.svc.DeleteSecret(ctx, user, sec.ID) }, listAfterWrite - 1},
	}
	for _, st := range steps {
		if err := st.write(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		start := f.vc.RoundTrips()
		got, err := f.svc.ListSecrets(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		if trips := f.vc.RoundTrips() - start; trips != 0 {
			t.Errorf("the list after a %s made %d Vault round trips, want 0", st.name, trips)
		}
		want, err := f.vc.ListSecrets(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		broker.SortSecrets(want)
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want)
		if len(got) != st.n || string(gj) != string(wj) {
			t.Fatalf("the list after a %s (%d secrets) differs from Vault's (%d)", st.name, len(got), len(want))
		}
		if i := slices.IndexFunc(got, func(s broker.Secret) bool { return s.ID == sec.ID }); st.name != "delete" &&
			(i < 0 || got[i].Version != want[i].Version) {
			t.Fatalf("the list after a %s does not show it", st.name)
		}
	}
}

// BenchmarkListAfterCreate is GET /api/v1/user/secrets of 500 secrets right
// after a POST of the 500th (Redis list cache, the whole API in process):
// each iteration creates a secret (untimed), lists (timed) and deletes it
// (untimed). Reports the p50 and p95 of the list and its Vault round trips.
func BenchmarkListAfterCreate(b *testing.B) {
	a := newAPIFixture(b, 0)
	ctx := context.Background()
	seedParallel(b, listAfterWrite-1, func(i int) error {
		_, err := a.api.CreateSecret(ctx, client.CreateSecretRequest{
			Name: fmt.Sprintf("SEED_%03d", i), Value: fmt.Sprintf("sk-seed-%03d-0123456789abcdef", i)})
		return err
	})
	if _, err := a.api.ListSecrets(ctx); err != nil { // warm
		b.Fatal(err)
	}
	var took []time.Duration
	var trips uint64
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		s, err := a.api.CreateSecret(ctx, client.CreateSecretRequest{Name: fmt.Sprintf("AFTER_%d", i), Value: "sk-after-0123456789abcdef"})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start, t0 := a.vc.RoundTrips(), time.Now()
		l, err := a.api.ListSecrets(ctx)
		took = append(took, time.Since(t0))
		trips += a.vc.RoundTrips() - start
		b.StopTimer()
		if err != nil || l.Total != listAfterWrite {
			b.Fatalf("list: %d secrets, %v", l.Total, err)
		}
		if err := a.api.DeleteSecret(ctx, s.ID); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(took[len(took)*95/100].Microseconds())/1000, "p95-ms")
	b.ReportMetric(float64(trips)/float64(len(took)), "vault-trips/list")
}

// BenchmarkServiceListAfterCreate is BenchmarkListAfterCreate without HTTP:
// broker.Service.ListSecrets of 500 secrets (Redis list cache) right after
// a CreateSecret, the cost of the cache alone.
func BenchmarkServiceListAfterCreate(b *testing.B) {
	f := newFixture(b).withRedisCache(b)
	ctx := context.Background()
	user := fmt.Sprintf("lc-bench-%d", time.Now().UnixNano())
	seedParallel(b, listAfterWrite-1, func(i int) error {
		_, err := f.svc.CreateSecret(ctx, user, broker.CreateSecretInput{
			Name: fmt.Sprintf("SEED_%03d", i), Value: fmt.Sprintf("sk-seed-%03d-0123456789abcdef", i)})
		return err
	})
	if _, err := f.svc.ListSecrets(ctx, user); err != nil { // warm
		b.Fatal(err)
	}
	var took []time.Duration
	var trips uint64
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		s, err := f.svc.CreateSecret(ctx, user, broker.CreateSecretInput{Name: fmt.Sprintf("AFTER_%d", i), Value: "sk-after-0123456789abcdef"})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start, t0 := f.vc.RoundTrips(), time.Now()
		l, err := f.svc.ListSecrets(ctx, user)
		took = append(took, time.Since(t0))
		trips += f.vc.RoundTrips() - start
		b.StopTimer()
		if err != nil || len(l) != listAfterWrite {
			b.Fatalf("list: %d secrets, %v", len(l), err)
		}
		if err := f.svc.DeleteSecret(ctx, user, s.ID); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(took[len(took)*95/100].Microseconds())/1000, "p95-ms")
	b.ReportMetric(float64(trips)/float64(len(took)), "vault-trips/list")
}
