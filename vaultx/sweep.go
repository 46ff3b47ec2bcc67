package vaultx

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/layout"
)

// SweepBundles destroys every sandbox bundle (sandboxes/<id>, plaintext
// env written by Wrap) whose KV metadata was created more than maxAge ago by
// Vault's clock: a bundle outlives its Wrap call only when the broker died
// between the write and the delete. Wrap runs within one API request, so with
// maxAge at least the request timeout no bundle still in use is touched.
// Safe to run on several replicas at once: a bundle another sweep (or its
// Wrap) already destroyed is skipped. It returns how many bundles it
// destroyed. Errors: invalid (maxAge not positive), unavailable, internal.
func (c *Client) SweepBundles(ctx context.Context, maxAge time.Duration) (int, error) {
	if maxAge <= 0 {
		return 0, broker.Invalid(broker.FieldError{Field: "max_age", Message: "must be positive"})
	}
	ids, err := c.kvList(ctx, layout.AreaSandboxes)
	if err != nil {
		return 0, mapErr(err, "list sandbox bundles", nil)
	}
	var (
		mu      sync.Mutex
		swept   int
		first   error
		wg      sync.WaitGroup
		workers = make(chan struct{}, 8)
	)
	for _, id := range ids {
		if pathSegment("sandbox_id", id) != nil {
			continue // a folder or an odd key: never a bundle Wrap wrote
		}
		workers <- struct{}{}
		wg.Go(func() {
			defer func() { <-workers }()
			done, err := c.sweepBundle(ctx, layout.SandboxPath(id), maxAge)
			mu.Lock()
			defer mu.Unlock()
			if done {
				swept++
			}
			if err != nil && first == nil {
				first = err
			}
		})
	}
	wg.Wait()
	return swept, first
}

// sweepBundle destroys the bundle at p when it is older than maxAge.
func (c *Client) sweepBundle(ctx context.Context, p string, maxAge time.Duration) (bool, error) {
	m, err := c.kvMetaRead(ctx, p)
	if statusOf(err) == http.StatusNotFound {
		return false, nil // destroyed meanwhile
	}
	if err != nil {
		return false, mapErr(err, "read sandbox bundle metadata", nil)
	}
	if m.CreatedTime.IsZero() || time.Since(m.CreatedTime) <= maxAge {
		return false, nil
	}
	if err := c.kvDelete(ctx, p); err != nil {
		return false, mapErr(err, "destroy sandbox bundle", nil)
	}
	return true, nil
}
