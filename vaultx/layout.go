package vaultx

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/acme/secretsbroker/broker"
)

// CheckLayout checks that what the broker is configured to use exists and
// that its token may use it, with two cheap calls: a read of the KV mount's
// config (<kv>/config: the mount exists and is KV v2) and an HMAC of a fixed
// probe with the transit key (it never creates a key, unlike encrypt). Both
// are granted by PolicyHCL for the configured mount and key only, so a BROKER_KV_MOUNT or BROKER_TRANSIT_KEY other than
// the one `brokerd setup` was run with is refused here rather than by every
// request. The message names what is missing. Errors: unavailable.
func (c *Client) CheckLayout(ctx context.Context) error {
	c.authMu.Lock()
	loggedIn := c.lease.ok
	c.authMu.Unlock()
	if !loggedIn {
		return broker.Errorf(broker.CodeUnavailable, "vault is up but the broker is not logged in yet")
	}
	kv := c.cfg.KVMount
	if _, err := c.do(ctx, request{method: http.MethodGet, path: kv + "/config"}); err != nil {
		switch st := statusOf(err); {
		case st == http.StatusNotFound || st == http.StatusBadRequest:
			return broker.WithCode(broker.CodeUnavailable, err, "KV v2 mount "+kv+" not found (BROKER_KV_MOUNT; `brokerd setup` creates it)")
		case st == http.StatusForbidden:
			return broker.WithCode(broker.CodeUnavailable, err, "the broker's token may not use KV mount "+kv+
				" (BROKER_KV_MOUNT differs from the mount `brokerd setup` configured, or its policy predates this version: run `brokerd setup` again)")
		default:
			return asUnavailable(mapErr(err, "check KV mount "+kv, nil))
		}
	}
	key := c.cfg.TransitMount + "/" + c.cfg.TransitKey
	probe := map[string]any{"input": base64.StdEncoding.EncodeToString([]byte("secrets-broker readiness probe"))}
	if _, err := c.do(ctx, request{method: http.MethodPost, path: c.transitPath("hmac") + "/sha2-256", body: probe}); err != nil {
		switch st := statusOf(err); {
		case st == http.StatusNotFound || st == http.StatusBadRequest:
			return broker.WithCode(broker.CodeUnavailable, err, "transit key "+key+" not found (BROKER_TRANSIT_MOUNT, BROKER_TRANSIT_KEY; `brokerd setup` creates it)")
		case st == http.StatusForbidden:
			return broker.WithCode(broker.CodeUnavailable, err, "the broker's token may not use transit key "+key+
				" (BROKER_TRANSIT_MOUNT or BROKER_TRANSIT_KEY differs from what `brokerd setup` configured)")
		default:
			return asUnavailable(mapErr(err, "check transit key "+key, nil))
		}
	}
	return nil
}

// asUnavailable keeps err's message with code unavailable: for readiness,
// whatever stops a check means not ready.
func asUnavailable(err error) error {
	if broker.IsCode(err, broker.CodeUnavailable) {
		return err
	}
	msg := "vault check failed"
	if be := (*broker.Error)(nil); errors.As(err, &be) && be.Message != "" {
		msg = be.Message
	}
	return broker.WithCode(broker.CodeUnavailable, err, msg)
}

// LayoutCheck is CheckLayout as a readiness probe (broker.Pinger), its
// result cached so that /readyz stays cheap: a success for ttl, a failure
// for at most a second (a fixed setting shows up quickly).
type LayoutCheck struct {
	c   *Client
	ttl time.Duration
	now func() time.Time

	mu   sync.Mutex
	at   time.Time
	last error
}

// NewLayoutCheck returns the cached probe of c's layout; ttl <= 0 means 10s.
func NewLayoutCheck(c *Client, ttl time.Duration, now func() time.Time) *LayoutCheck {
	if ttl <= 0 {
		ttl = 10 * time.Second
	}
	if now == nil {
		now = time.Now
	}
	return &LayoutCheck{c: c, ttl: ttl, now: now}
}

// Ping is CheckLayout, cached. Errors: unavailable.
func (l *LayoutCheck) Ping(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	keep := l.ttl
	if l.last != nil {
		keep = min(l.ttl, time.Second)
	}
	if !l.at.IsZero() && l.now().Sub(l.at) < keep {
		return l.last
	}
	l.last = l.c.CheckLayout(ctx)
	l.at = l.now()
	return l.last
}
