package vaultx

import (
	"context"

	"github.com/acme/secretsbroker/broker"
)

// Health probes sys/health (unauthenticated, no retries, within the client
// timeout). A sealed, uninitialised or unreachable Vault, or a standby with no
// active node, is an unavailable error whose message names the cause
// ("vault is sealed", "vault unreachable: connection refused", ...). A Vault
// that answers but rejected the broker's login is also unavailable.
// Errors: unavailable.
func (c *Client) Health(ctx context.Context) error {
	h, err := c.health.Sys().HealthWithContext(ctx)
	if err != nil {
		if statusOf(err) != 0 {
			return broker.WithCode(broker.CodeUnavailable, err, "vault unhealthy: unexpected health answer")
		}
		return broker.WithCode(broker.CodeUnavailable, err, "vault unreachable: "+transportCause(err))
	}
	switch {
	case !h.Initialized:
		return broker.Errorf(broker.CodeUnavailable, "vault is not initialized")
	case h.Sealed:
		return broker.Errorf(broker.CodeUnavailable, "vault is sealed")
	case h.Standby:
		l, err := c.health.Sys().LeaderWithContext(ctx)
		if err != nil {
			return broker.WithCode(broker.CodeUnavailable, err, "vault is a standby and its leader is unknown")
		}
		if !l.IsSelf && l.LeaderAddress == "" {
			return broker.Errorf(broker.CodeUnavailable, "vault is a standby with no active node")
		}
	}
	c.authMu.Lock()
	loggedIn := c.lease.ok
	c.authMu.Unlock()
	if !loggedIn {
		return broker.Errorf(broker.CodeUnavailable, "vault is up but the broker is not logged in yet")
	}
	return nil
}

// Ping is Health (broker.Pinger). Errors: unavailable.
func (c *Client) Ping(ctx context.Context) error { return c.Health(ctx) }
