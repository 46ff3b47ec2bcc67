package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/acme/secretsbroker/client"
	"github.com/acme/secretsbroker/redisx"
)

// Operation names, in run order.
func allOps() []string {
	ops := []string{"create", "get"}
	for _, n := range listSizes {
		ops = append(ops, fmt.Sprintf("list%d_cold", n), fmt.Sprintf("list%d_warm", n))
	}
	return append(ops, "rotate", "provision1", "provision5", "provision20", "evaluation")
}

// extraOps run only when -ops names them. provision1_record is provision1
// against a floor that also writes the runtime record (floor.go).
var extraOps = []string{"provision1_record"}

// opSpec is one operation: its broker request, its floor, and its estimated
// Vault calls (which size the phase).
type opSpec struct {
	name  string
	calls int
	// maxConc caps the concurrency (default: none).
	maxConc int
	broker  func(conc int) opFunc
	floor   func(conc int) opFunc // nil: the floor of another row is reused
	// sameFloorAs names the operation whose floor applies (warm lists: the
	// floor has no cache, so it is the cold list's).
	sameFloorAs string
}

type bench struct {
	cfg   config
	w     *world
	bc    *brokerClient
	fl    *floor
	cache *redisx.ListCache
}

func value(i int) string { return "sk-bench-" + strconv.Itoa(i) + "-" + randHex(12) }

// pool hands each worker a user of its own for the duration of one request.
func pool(users []user) chan user {
	ch := make(chan user, len(users))
	for _, u := range users {
		ch <- u
	}
	return ch
}

func (b *bench) spec(name string) opSpec {
	s := b.spec1(name)
	if s.maxConc == 0 {
		s.maxConc = 1 << 20
	}
	return s
}

func (b *bench) spec1(name string) opSpec {
	w := b.w
	switch {
	case name == "create":
		return opSpec{name: name, calls: 6,
			broker: func(conc int) opFunc {
				return func(ctx context.Context, wk, i int, _ func()) error {
					u := w.creators[conc][wk]
					return done(b.bc.as(u.key).CreateSecret(ctx, client.CreateSecretRequest{Name: fmt.Sprintf("BENCH_%05d", i), Value: value(i)}))
				}
			},
			floor: func(conc int) opFunc {
				return func(ctx context.Context, wk, i int, _ func()) error {
					return b.fl.create(ctx, fmt.Sprintf("floor-create-c%d-w%d", conc, wk), fmt.Sprintf("BENCH_%05d", i), value(i))
				}
			}}
	case name == "get":
		return opSpec{name: name, calls: 1,
			broker: func(int) opFunc {
				return func(ctx context.Context, wk, _ int, _ func()) error {
					return done(b.bc.as(w.hot.key).GetSecret(ctx, w.hot.secrets[wk%hotSecrets]))
				}
			},
			floor: func(int) opFunc {
				return func(ctx context.Context, wk, _ int, _ func()) error {
					_, err := b.fl.get(ctx, w.hot.id, w.hot.secrets[wk%hotSecrets])
					return err
				}
			}}
	case strings.HasPrefix(name, "list"):
		n, _ := strconv.Atoi(strings.TrimPrefix(strings.TrimSuffix(strings.TrimSuffix(name, "_cold"), "_warm"), "list"))
		users := w.lists[n]
		if strings.HasSuffix(name, "_warm") {
			return opSpec{name: name, calls: 1, sameFloorAs: fmt.Sprintf("list%d_cold", n),
				broker: func(int) opFunc {
					return func(ctx context.Context, wk, _ int, _ func()) error {
						return b.listOnce(ctx, users[wk%len(users)], n)
					}
				}}
		}
		return opSpec{name: name, calls: n + 1, maxConc: len(users),
			broker: func(int) opFunc {
				p := pool(users)
				return func(ctx context.Context, _, _ int, mark func()) error {
					u := <-p
					defer func() { p <- u }()
					if err := b.cache.Invalidate(ctx, u.id); err != nil {
						return err
					}
					mark()
					return b.listOnce(ctx, u, n)
				}
			},
			floor: func(int) opFunc {
				p := pool(users)
				return func(ctx context.Context, _, _ int, mark func()) error {
					u := <-p
					defer func() { p <- u }()
					mark()
					got, err := b.fl.list(ctx, u.id)
					if err == nil && got != n {
						err = fmt.Errorf("floor list: %d secrets, want %d", got, n)
					}
					return err
				}
			}}
	case name == "rotate":
		return opSpec{name: name, calls: 6,
			broker: func(int) opFunc {
				return func(ctx context.Context, wk, i int, _ func()) error {
					return done(b.bc.as(w.hot.key).UpdateSecret(ctx, w.hot.secrets[wk%hotSecrets], value(i)))
				}
			},
			floor: func(int) opFunc {
				return func(ctx context.Context, wk, i int, _ func()) error {
					return b.fl.rotate(ctx, w.hot.id, w.hot.secrets[wk%hotSecrets], value(i))
				}
			}}
	case name == "provision1_record":
		ids := w.hot.secrets[:1]
		return opSpec{name: name, calls: 6, broker: b.provisionRuntime(ids),
			floor: func(int) opFunc {
				return func(ctx context.Context, _, _ int, _ func()) error {
					return b.fl.provisionWithRecord(ctx, w.hot.id, ids)
				}
			}}
	case strings.HasPrefix(name, "provision"):
		k, _ := strconv.Atoi(strings.TrimPrefix(name, "provision"))
		ids := w.hot.secrets[:k]
		return opSpec{name: name, calls: k + 4, broker: b.provisionRuntime(ids),
			floor: func(int) opFunc {
				return func(ctx context.Context, _, _ int, _ func()) error { return b.fl.provision(ctx, w.hot.id, ids) }
			}}
	case name == "evaluation":
		ids := w.hot.secrets[:b.cfg.EvalSecrets]
		items := make([]client.EvaluationItemSpec, b.cfg.Items)
		for i := range items {
			items[i] = client.EvaluationItemSpec{Name: fmt.Sprintf("item-%d", i)}
		}
		return opSpec{name: name, calls: len(ids) + 1 + 6*b.cfg.Items, maxConc: b.cfg.EvalConc,
			broker: func(int) opFunc {
				return func(ctx context.Context, _, _ int, _ func()) error {
					return done(b.bc.as(w.hot.key).CreateEvaluation(ctx, client.CreateEvaluationRequest{ProjectID: "bench", SecretIDs: ids, Items: items}))
				}
			},
			floor: func(int) opFunc {
				return func(ctx context.Context, _, _ int, _ func()) error {
					return b.fl.evaluation(ctx, w.hot.id, ids, b.cfg.Items)
				}
			}}
	}
	panic("unknown operation " + name)
}

// listOnce lists u's secrets through the broker and checks the total.
func (b *bench) listOnce(ctx context.Context, u user, n int) error {
	out, err := b.bc.as(u.key).ListSecrets(ctx)
	if err != nil {
		return err
	}
	if out.Total != n {
		return fmt.Errorf("list: total %d, want %d", out.Total, n)
	}
	return nil
}

// provisionRuntime is the broker's side of a provision: a runtime of the hot
// user's ids.
func (b *bench) provisionRuntime(ids []string) func(int) opFunc {
	return func(int) opFunc {
		return func(ctx context.Context, _, _ int, _ func()) error {
			return done(b.bc.as(b.w.hot.key).CreateRuntime(ctx, client.CreateRuntimeRequest{ProjectID: "bench", SecretIDs: ids}))
		}
	}
}
