package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/vaultx"
)

// user is a broker user with an API key and seeded secrets.
type user struct {
	id      string
	key     string
	secrets []string
}

// world is the data the phases work on, seeded before any measurement.
type world struct {
	hot      user           // 64 secrets: get, rotate, provision, evaluation
	lists    map[int][]user // list size -> users holding that many secrets
	creators map[int][]user // concurrency -> one user per worker (create)
}

// hotSecrets is the number of secrets of the hot user (one per worker for rotate).
const hotSecrets = 64

var listSizes = []int{10, 100, 500}

// seed creates users, API keys and secrets directly in Vault through the
// vaultx adapter (root token), in the broker's storage format.
func seed(ctx context.Context, addr, rootToken string, cfg config) (*world, error) {
	vc, err := vaultx.New(ctx, vaultx.Config{Addr: addr, Token: rootToken}, zerolog.Nop())
	if err != nil {
		return nil, err
	}
	defer vc.Close()
	w := &world{lists: map[int][]user{}, creators: map[int][]user{}}
	var jobs []func(ctx context.Context) error
	mk := func(id string, n int, into *user) {
		jobs = append(jobs, func(ctx context.Context) error {
			u, err := seedUser(ctx, vc, id, n)
			*into = u
			return err
		})
	}
	mk("bench-hot", hotSecrets, &w.hot)
	for _, n := range listSizes {
		w.lists[n] = make([]user, cfg.ListUsers)
		for k := range w.lists[n] {
			mk(fmt.Sprintf("bench-list%d-u%d", n, k), n, &w.lists[n][k])
		}
	}
	for _, c := range cfg.Conc {
		w.creators[c] = make([]user, c)
		for k := range c {
			mk(fmt.Sprintf("bench-create-c%d-w%d", c, k), 0, &w.creators[c][k])
		}
	}
	if err := par(ctx, len(jobs), 8, func(ctx context.Context, i int) error { return jobs[i](ctx) }); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	return w, nil
}

// seedUser creates an API key and n secrets (one encryption and fingerprint
// shared by all: the value is the same) for id.
func seedUser(ctx context.Context, vc *vaultx.Client, id string, n int) (user, error) {
	key, _, err := broker.CreateAPIKey(ctx, vc, id, "brokerbench", time.Now())
	if err != nil {
		return user{}, err
	}
	u := user{id: id, key: key, secrets: make([]string, n)}
	if n == 0 {
		return u, nil
	}
	value := "sk-bench-" + randHex(16)
	ct, err := vc.Encrypt(ctx, id, []byte(value))
	if err != nil {
		return user{}, err
	}
	fp, err := vc.Fingerprint(ctx, id, []byte(value))
	if err != nil {
		return user{}, err
	}
	var mu sync.Mutex
	err = par(ctx, n, 8, func(ctx context.Context, i int) error {
		sid, name := broker.NewID(), fmt.Sprintf("BENCH_%03d", i)
		if err := vc.ReserveName(ctx, id, name, sid); err != nil {
			return err
		}
		_, err := vc.CreateSecret(ctx, broker.SecretWrite{UserID: id, SecretID: sid, Name: name,
			Ciphertext: ct, MaskedValue: broker.Mask(value), Fingerprint: fp})
		mu.Lock()
		u.secrets[i] = sid
		mu.Unlock()
		return err
	})
	return u, err
}
