package vaultx

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/acme/secretsbroker/broker"
)

// BenchmarkProvision measures the Vault side of a sandbox provision with 1 and
// 20 secrets: concurrent ciphertext reads, one batch decrypt, one wrap (three
// calls). It reports Vault round trips per provision.
func BenchmarkProvision(b *testing.B) {
	for _, n := range []int{1, 20} {
		b.Run(fmt.Sprintf("secrets=%d", n), func(b *testing.B) {
			c, user, ids := benchSecrets(b, n)
			ctx := context.Background()
			b.ResetTimer()
			before := c.RoundTrips()
			for i := 0; i < b.N; i++ {
				cts, err := c.Ciphertexts(ctx, user, ids)
				if err != nil {
					b.Fatal(err)
				}
				pts, err := c.DecryptBatch(ctx, user, cts)
				if err != nil {
					b.Fatal(err)
				}
				env := make(map[string]string, n)
				for j, p := range pts {
					env[fmt.Sprintf("NAME%d", j)] = string(p)
				}
				if _, err := c.Wrap(broker.WithAudit(ctx, broker.Audit{UserID: user}), randID("sb-"), env, time.Minute); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(c.RoundTrips()-before)/float64(b.N), "vault-round-trips/op")
		})
	}
}

// BenchmarkListSecrets measures listing 20 secrets (metadata only).
func BenchmarkListSecrets(b *testing.B) {
	c, user, _ := benchSecrets(b, 20)
	ctx := context.Background()
	b.ResetTimer()
	before := c.RoundTrips()
	for i := 0; i < b.N; i++ {
		if _, err := c.ListSecrets(ctx, user); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(c.RoundTrips()-before)/float64(b.N), "vault-round-trips/op")
}

func benchSecrets(b *testing.B, n int) (*Client, string, []string) {
	b.Helper()
	v := env.Vault(b)
	ctx := context.Background()
	admin, err := NewAPIClient(Config{Addr: v.Addr, Token: v.Token}, APIOptions{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := Setup(ctx, admin, SetupOptions{}); err != nil {
		b.Fatal(err)
	}
	c, err := New(ctx, Config{Addr: v.Addr, Token: v.Token}, testLoggerB())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	user := randID("bench-")
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("s%d", i)
		ct, err := c.Encrypt(ctx, user, []byte(fmt.Sprintf("value-%d", i)))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.CreateSecret(ctx, broker.SecretWrite{UserID: user, SecretID: ids[i], Name: fmt.Sprintf("NAME%d", i), Ciphertext: ct, MaskedValue: "••••", Fingerprint: "hmac:x"}); err != nil {
			b.Fatal(err)
		}
	}
	return c, user, ids
}
