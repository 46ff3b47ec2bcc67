package vaultx

import (
	"context"
	"net/http"
	"time"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/layout"
)

// CreationPath is the creation path a bootstrap token for sandboxID carries:
// "<kv mount>/data/sandboxes/<sandboxID>".
func (c *Client) CreationPath(sandboxID string) string {
	return layout.CreationPath(c.cfg.KVMount, sandboxID)
}

// Wrap mints a bootstrap token for sandboxID (docs/design.md section 5, steps 2-4)
// in three calls: write env to sandboxes/<sandboxID>, read it back wrapped
// with ttl (the token's creation path is CreationPath(sandboxID)), delete the
// bundle's metadata and versions. Unwrapping the token yields the KV v2 read
// answer: the env map is under data["data"].
//
// On a failure at any step the bundle is deleted and a minted token revoked
// (with a fresh context, so a cancelled caller still cleans up).
// Errors: invalid (bad sandbox id or ttl), unavailable, internal.
func (c *Client) Wrap(ctx context.Context, sandboxID string, env map[string]string, ttl time.Duration) (broker.Wrapped, error) {
	if err := pathSegment("sandbox_id", sandboxID); err != nil {
		return broker.Wrapped{}, err
	}
	if err := broker.CheckWrapTTL(ttl); err != nil {
		return broker.Wrapped{}, err
	}
	if env == nil {
		env = map[string]string{}
	}
	p := layout.SandboxPath(sandboxID)
	if _, err := c.kvWrite(ctx, p, env, -1); err != nil {
		c.cleanup(func(ctx context.Context) error { return c.kvDelete(ctx, p) }, "delete sandbox bundle")
		return broker.Wrapped{}, mapErr(err, "write sandbox bundle", nil)
	}
	res, err := c.do(ctx, request{method: http.MethodGet, path: c.dataPath(p), wrapTTL: ttl, once: true})
	var wi *wrapInfo
	if err == nil {
		if wi = res.WrapInfo; wi == nil || wi.Token == "" {
			err = broker.Errorf(broker.CodeInternal, "vault did not wrap the sandbox bundle")
		}
	}
	if err != nil {
		c.cleanup(func(ctx context.Context) error {
			if wi != nil && wi.Accessor != "" {
				if err := c.revokeAccessor(ctx, wi.Accessor); err != nil {
					return err
				}
			}
			return c.kvDelete(ctx, p)
		}, "undo sandbox bundle")
		return broker.Wrapped{}, mapErr(err, "wrap sandbox bundle", nil)
	}
	if err := c.kvDelete(ctx, p); err != nil {
		c.cleanup(func(ctx context.Context) error {
			if err := c.revokeAccessor(ctx, wi.Accessor); err != nil {
				return err
			}
			return c.kvDelete(ctx, p)
		}, "undo sandbox bundle")
		return broker.Wrapped{}, mapErr(err, "delete sandbox bundle", nil)
	}
	created := wi.CreationTime
	if created.IsZero() {
		created = time.Now()
	}
	return broker.Wrapped{
		Token:        wi.Token,
		Accessor:     wi.Accessor,
		CreationPath: wi.CreationPath,
		ExpiresAt:    created.Add(time.Duration(wi.TTL) * time.Second).UTC(),
	}, nil
}

// RevokeAccessor revokes a wrapping token by its accessor
// (auth/token/revoke-accessor): the token can no longer be unwrapped. An
// unknown, expired or already used accessor is not an error.
// Errors: invalid, unavailable, internal.
func (c *Client) RevokeAccessor(ctx context.Context, accessor string) error {
	if err := pathSegment("accessor", accessor); err != nil {
		return err
	}
	return mapErr(c.revokeAccessor(ctx, accessor), "revoke bootstrap token", nil)
}

func (c *Client) revokeAccessor(ctx context.Context, accessor string) error {
	_, err := c.do(ctx, request{method: http.MethodPost, path: "auth/token/revoke-accessor",
		body: map[string]string{"accessor": accessor}})
	if isUnknownAccessor(err) {
		return nil
	}
	return err
}

// isUnknownAccessor reports Vault's answer to revoking an accessor whose
// token is gone (never issued, expired, already used or already revoked): a
// 400 whose text says "invalid accessor" (older Vaults) or "token not found"
// (Vault 1.21, when a revoke is repeated after a leader change applied the
// first one; otherwise it answers 200 with the warning "No token found with
// this accessor"). Either way the token can no longer be unwrapped, which is
// what revoking is for. Vault gives no structured signal; this is the one
// place that reads that text.
func isUnknownAccessor(err error) bool {
	return statusOf(err) == http.StatusBadRequest &&
		(errorTextContains(err, "invalid accessor") || errorTextContains(err, "token not found"))
}
