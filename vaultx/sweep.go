package vaultx

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
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
		swept atomic.Int64
		once  sync.Once
		first error
	)
	err = broker.ForEach(ctx, len(ids), 8, func(ctx context.Context, i int) error {
		if pathSegment("sandbox_id", ids[i]) != nil {
			return nil // a folder or an odd key: never a bundle Wrap wrote
		}
		done, err := c.sweepBundle(ctx, layout.SandboxPath(ids[i]), maxAge)
		if done {
			swept.Add(1)
		}
		if err != nil {
			once.Do(func() { first = err })
		}
		return nil // one bundle's failure does not stop the sweep of the others
	})
	if err == nil {
		err = first
	}
	return int(swept.Load()), err
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
