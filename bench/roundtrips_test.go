package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/acme/secretsbroker/broker"
)

// TestWriteRoundTrips pins the Vault round trips of the write paths at the
// floor docs/design.md implies: a create is reserve + encrypt + HMAC + data write
// + metadata write (5; the first create of a user also counts its secrets
// with a LIST), a rotate is metadata read + encrypt + HMAC + data write +
// metadata write (5).
func TestWriteRoundTrips(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	user := fmt.Sprintf("trips-write-%d", time.Now().UnixNano())
	var ids []string
	for i := range 4 {
		start := f.vc.RoundTrips()
		s, err := f.svc.CreateSecret(ctx, user, broker.CreateSecretInput{Name: fmt.Sprintf("W_%d", i), Value: "sk-write-0123456789abcdef"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.ID)
		got, want := f.vc.RoundTrips()-start, uint64(5)
		if i == 0 {
			want = 6
		}
		if got != want {
			t.Errorf("create %d: %d Vault round trips, want %d", i, got, want)
		}
	}
	for i, id := range ids {
		start := f.vc.RoundTrips()
		s, err := f.svc.UpdateSecret(ctx, user, id, fmt.Sprintf("sk-rotated-%d-0123456789", i))
		if err != nil {
			t.Fatal(err)
		}
		if s.Version != 2 {
			t.Errorf("rotate %d: version %d, want 2", i, s.Version)
		}
		if got := f.vc.RoundTrips() - start; got != 5 {
			t.Errorf("rotate %d: %d Vault round trips, want 5", i, got)
		}
	}
	// A rotate of an absent secret is not_found (its seal runs alongside the
	// read and is wasted, which is fine).
	if _, err := f.svc.UpdateSecret(ctx, user, broker.NewID(), "sk-absent-0123456789"); !broker.IsCode(err, broker.CodeNotFound) {
		t.Errorf("rotate of an absent secret: %v, want not_found", err)
	}
	// Rollback reuses its first read for the first check-and-set.
	start := f.vc.RoundTrips()
	s, err := f.svc.Rollback(ctx, user, ids[0], 1)
	if err != nil {
		t.Fatal(err)
	}
	if s.Version != 3 {
		t.Errorf("rollback: version %d, want 3", s.Version)
	}
	if got := f.vc.RoundTrips() - start; got != 6 { // read, version read, decrypt, HMAC, write, metadata
		t.Errorf("rollback: %d Vault round trips, want 6", got)
	}
}

// TestCreateCapWithCountHints: skipping the count while far below the cap
// never lets one replica pass the cap.
func TestCreateCapWithCountHints(t *testing.T) {
	f := newFixture(t)
	svc := broker.NewService(broker.Config{Limits: broker.Limits{MaxSecretsPerUser: 6}},
		broker.Deps{Secrets: f.vc, Crypto: f.vc, Boot: f.vc, Records: nil, Cache: nopCache{}})
	ctx := context.Background()
	user := fmt.Sprintf("cap-%d", time.Now().UnixNano())
	for i := range 6 {
		if _, err := svc.CreateSecret(ctx, user, broker.CreateSecretInput{Name: fmt.Sprintf("C_%d", i), Value: "sk-cap-0123456789abcdef"}); err != nil {
			t.Fatalf("create %d: %v", i, err)
		}
	}
	if _, err := svc.CreateSecret(ctx, user, broker.CreateSecretInput{Name: "C_6", Value: "sk-cap-0123456789abcdef"}); !broker.IsCode(err, broker.CodeInvalid) {
		t.Fatalf("create past the cap: %v, want invalid", err)
	}
	if n, err := f.vc.CountSecrets(ctx, user); err != nil || n != 6 {
		t.Fatalf("count %d (%v), want 6", n, err)
	}
}

// nopCache is a list cache that never hits.
type nopCache struct{}

func (nopCache) Get(context.Context, string) ([]broker.Secret, string, bool, error) {
	return nil, "", false, nil
}
func (nopCache) Put(context.Context, string, string, []broker.Secret) error { return nil }
func (nopCache) Stamp(context.Context, string) (string, error)              { return "", nil }
func (nopCache) Update(context.Context, string, string, broker.ListChange) error {
	return nil
}
func (nopCache) Invalidate(context.Context, string) error { return nil }
