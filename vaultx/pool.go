package vaultx

import (
	"context"

	"github.com/acme/secretsbroker/broker"
)

// maxParallel bounds the concurrent Vault calls of one operation.
const maxParallel = 16

// parallel runs fn(ctx, i) for i in [0, n) on at most maxParallel goroutines.
// The first error cancels the rest and is returned.
func parallel(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	if n == 1 {
		return fn(ctx, 0)
	}
	return broker.ForEach(ctx, n, maxParallel, fn)
}
