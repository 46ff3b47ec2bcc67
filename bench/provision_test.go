package bench

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/rs/zerolog"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/inproc"
	"github.com/acme/secretsbroker/internal/testenv"
	"github.com/acme/secretsbroker/vaultx"
)

var shared testenv.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	shared.Close()
	os.Exit(code)
}

// fixture is a broker service over a real, set-up Vault, with the Vault
// client whose round trips are counted.
type fixture struct {
	svc *broker.Service
	vc  *vaultx.Client
}

func newFixture(tb testing.TB) fixture {
	tb.Helper()
	v := shared.Vault(tb)
	ctx := context.Background()
	cfg := api.DefaultConfig()
	cfg.Address = v.Addr
	admin, err := api.NewClient(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	admin.SetToken(v.Token)
	if _, err := vaultx.Setup(ctx, admin, vaultx.SetupOptions{}); err != nil {
		tb.Fatal(err)
	}
	vc, err := vaultx.New(ctx, vaultx.Config{Addr: v.Addr, Token: v.Token}, zerolog.Nop())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = vc.Close() })
	mem := inproc.New(time.Now, inproc.Options{})
	svc := broker.NewService(broker.Config{SandboxVaultAddr: v.Addr},
		broker.Deps{Secrets: vc, Crypto: vc, Boot: vc, Records: vc.Records(), Cache: mem.ListCache()})
	return fixture{svc: svc, vc: vc}
}

// seed creates n secrets for user and returns their ids.
func (f fixture) seed(tb testing.TB, user string, n int) []string {
	tb.Helper()
	ids := make([]string, n)
	for i := range ids {
		s, err := f.svc.CreateSecret(context.Background(), user, broker.CreateSecretInput{
			Name: fmt.Sprintf("BENCH_%03d", i), Value: fmt.Sprintf("sk-bench-%03d-0123456789abcdef", i)})
		if err != nil {
			tb.Fatal(err)
		}
		ids[i] = s.ID
	}
	return ids
}

// BenchmarkProvision reports the latency and the Vault round trips of
// provisioning a runtime with 1 and with 20 secrets (warm list cache). Apart
// from the concurrent KV reads (one per secret), the number of round trips
// does not grow with the number of secrets.
func BenchmarkProvision(b *testing.B) {
	f := newFixture(b)
	for _, n := range []int{1, 20} {
		b.Run(fmt.Sprintf("secrets=%d", n), func(b *testing.B) {
			user := fmt.Sprintf("bench-prov-%d-%d", n, time.Now().UnixNano())
			ids := f.seed(b, user, n)
			ctx := context.Background()
			if _, err := f.svc.CreateRuntime(ctx, user, broker.RuntimeInput{ProjectID: "p", SecretIDs: ids}); err != nil {
				b.Fatal(err) // warms the list cache
			}
			start := f.vc.RoundTrips()
			b.ResetTimer()
			for b.Loop() {
				if _, err := f.svc.CreateRuntime(ctx, user, broker.RuntimeInput{ProjectID: "p", SecretIDs: ids}); err != nil {
					b.Fatal(err)
				}
			}
			trips := float64(f.vc.RoundTrips()-start) / float64(b.N)
			b.ReportMetric(trips, "vault-trips/op")
			b.ReportMetric(trips-float64(n), "fixed-trips/op")
		})
	}
}

// TestProvisionRoundTrips pins the round-trip budget the benchmark reports:
// n KV reads, one batch decrypt, a fixed number of calls to mint the token
// (write, wrapped read, destroy), and the one KV write of the runtime record,
// which keeps the accessor revocation needs (Vault KV is its system of
// record), whatever n is: n+5.
func TestProvisionRoundTrips(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	fixed := map[int]uint64{}
	for _, n := range []int{1, 5, 20} {
		user := fmt.Sprintf("trips-%d-%d", n, time.Now().UnixNano())
		ids := f.seed(t, user, n)
		if _, err := f.svc.CreateRuntime(ctx, user, broker.RuntimeInput{ProjectID: "p", SecretIDs: ids}); err != nil {
			t.Fatal(err)
		}
		start := f.vc.RoundTrips()
		if _, err := f.svc.CreateRuntime(ctx, user, broker.RuntimeInput{ProjectID: "p", SecretIDs: ids}); err != nil {
			t.Fatal(err)
		}
		fixed[n] = f.vc.RoundTrips() - start - uint64(n)
		t.Logf("provision with %d secrets: %d Vault round trips (%d KV reads + %d fixed)", n, fixed[n]+uint64(n), n, fixed[n])
	}
	if fixed[1] != 5 || fixed[5] != 5 || fixed[20] != 5 {
		t.Fatalf("fixed round trips are not 5 (decrypt, 3 to mint, the runtime record) for every selection: %v", fixed)
	}
}
