package vaultx

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/acme/secretsbroker/broker"
)

const (
	minRetryBackoff = time.Second
	maxRetryBackoff = 30 * time.Second
)

// readAppRoleCreds reads role_id and secret_id from their files.
// Errors: invalid, naming the file.
func (c *Client) readAppRoleCreds() (roleID, secretID string, err error) {
	if roleID, err = readCredFile("role_id", c.cfg.RoleIDFile); err != nil {
		return "", "", err
	}
	if secretID, err = readCredFile("secret_id", c.cfg.SecretIDFile); err != nil {
		return "", "", err
	}
	return roleID, secretID, nil
}

func readCredFile(what, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		cause := err
		var pe *fs.PathError
		if errors.As(err, &pe) {
			cause = pe.Err
		}
		return "", broker.WithCode(broker.CodeInvalid, err, "cannot read vault "+what+" file "+path+": "+cause.Error())
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", broker.Errorf(broker.CodeInvalid, "vault %s file %s is empty", what, path)
	}
	return v, nil
}

// loginLocked logs in with AppRole and installs the new token. authMu held.
func (c *Client) loginLocked(ctx context.Context) error {
	roleID, secretID, err := c.readAppRoleCreds()
	if err != nil {
		return err
	}
	env, err := c.send(ctx, request{
		method: http.MethodPost,
		path:   "auth/" + c.cfg.AppRoleMount + "/login",
		body:   map[string]string{"role_id": roleID, "secret_id": secretID},
	}, "")
	if err != nil {
		if st := statusOf(err); st == http.StatusBadRequest || st == http.StatusForbidden {
			return broker.WithCode(broker.CodeInvalid, err, "vault rejected the AppRole credentials (role_id or secret_id invalid or expired)")
		}
		return mapErr(err, "vault approle login", nil)
	}
	if env.Auth == nil || env.Auth.ClientToken == "" {
		return broker.Errorf(broker.CodeInternal, "vault approle login returned no token")
	}
	c.api.SetToken(env.Auth.ClientToken)
	c.lease = lease{
		ok:        true,
		ttl:       time.Duration(env.Auth.LeaseDuration) * time.Second,
		grantTTL:  time.Duration(env.Auth.LeaseDuration) * time.Second,
		renewable: env.Auth.Renewable,
		obtained:  time.Now(),
	}
	c.logins.Add(1)
	c.log.Info().Dur("ttl", c.lease.ttl).Bool("renewable", c.lease.renewable).Msg("vault approle login")
	return nil
}

// lookupSelf reads the given token's own properties.
func (c *Client) lookupSelf(ctx context.Context, token string) (ttl time.Duration, renewable bool, err error) {
	env, err := c.send(ctx, request{method: http.MethodGet, path: "auth/token/lookup-self"}, token)
	if err != nil {
		return 0, false, err
	}
	var d struct {
		TTL       int  `json:"ttl"`
		Renewable bool `json:"renewable"`
	}
	if err := env.decode(&d); err != nil {
		return 0, false, broker.WithCode(broker.CodeInternal, err, "decode vault token lookup")
	}
	return time.Duration(d.TTL) * time.Second, d.Renewable, nil
}

// renewLocked renews the current token. authMu held.
func (c *Client) renewLocked(ctx context.Context) error {
	env, err := c.send(ctx, request{method: http.MethodPost, path: "auth/token/renew-self", body: map[string]any{}}, c.api.Token())
	if err != nil {
		return mapErr(err, "vault token renewal", nil)
	}
	if env.Auth == nil {
		return broker.Errorf(broker.CodeInternal, "vault token renewal returned no auth")
	}
	ttl := time.Duration(env.Auth.LeaseDuration) * time.Second
	c.lease.capped = ttl < c.lease.grantTTL
	c.lease.ttl, c.lease.renewable, c.lease.obtained = ttl, env.Auth.Renewable, time.Now()
	c.renewals.Add(1)
	c.log.Debug().Dur("ttl", ttl).Msg("vault token renewed")
	return nil
}

// refreshLocked makes sure a usable token is held: login, lookup or renewal,
// whichever is due. authMu held.
func (c *Client) refreshLocked(ctx context.Context) error {
	if c.approle {
		if c.lease.ok && c.lease.renewable && !c.lease.capped {
			err := c.renewLocked(ctx)
			if err == nil {
				return nil
			}
			c.log.Warn().Err(err).Msg("vault token renewal failed, logging in again")
		}
		return c.loginLocked(ctx)
	}
	if !c.lease.ok {
		ttl, renewable, err := c.lookupSelf(ctx, c.api.Token())
		if err != nil {
			if statusOf(err) == http.StatusForbidden {
				return broker.WithCode(broker.CodeInvalid, err, "vault rejected the token (invalid, expired or revoked)")
			}
			return mapErr(err, "vault token lookup", nil)
		}
		c.lease = lease{ok: true, ttl: ttl, grantTTL: ttl, renewable: renewable, obtained: time.Now()}
		return nil
	}
	if c.lease.renewable && c.lease.ttl > 0 {
		return c.renewLocked(ctx)
	}
	return nil
}

// reauth is called after a 403 on failedToken. It reports whether the call
// should be retried: true when another caller already logged in again, or
// when the token turned out to be dead and a fresh login succeeded. A token
// that is still valid means the 403 was a real policy denial: no retry.
func (c *Client) reauth(ctx context.Context, failedToken string) bool {
	c.authMu.Lock()
	defer c.authMu.Unlock()
	if c.api.Token() != failedToken {
		return true
	}
	if failedToken != "" {
		_, _, err := c.lookupSelf(ctx, failedToken)
		if err == nil || !isPermissionDenied(err) {
			return false
		}
	}
	c.log.Warn().Msg("vault token rejected (revoked or expired), logging in again")
	if err := c.loginLocked(ctx); err != nil {
		c.log.Error().Err(err).Msg("vault re-login failed")
		return false
	}
	c.kick()
	return true
}

func (c *Client) kick() {
	select {
	case c.poke <- struct{}{}:
	default:
	}
}

// maintain renews the token at two thirds of its TTL and logs in again when
// renewal fails or the max TTL is near (AppRole). Failures are retried with
// an exponential backoff (1 s to 30 s).
func (c *Client) maintain(ctx context.Context) {
	defer close(c.done)
	backoff := minRetryBackoff
	failed := false
	for {
		c.authMu.Lock()
		l := c.lease
		c.authMu.Unlock()

		var wait time.Duration
		switch {
		case failed || !l.ok:
			wait = backoff
		case l.ttl == 0 || (!c.approle && !l.renewable):
			wait = -1 // nothing to do until poked
		default:
			wait = time.Until(l.obtained.Add(l.ttl * 2 / 3))
		}
		var timer <-chan time.Time
		var t *time.Timer
		if wait >= 0 {
			t = time.NewTimer(wait)
			timer = t.C
		}
		fired := false
		select {
		case <-ctx.Done():
		case <-c.poke:
			failed = false
		case <-timer:
			fired = true
		}
		if t != nil {
			t.Stop()
		}
		if ctx.Err() != nil {
			return
		}
		if !fired {
			continue
		}

		rctx, cancel := context.WithTimeout(ctx, 2*c.cfg.Timeout)
		c.authMu.Lock()
		err := c.refreshLocked(rctx)
		c.authMu.Unlock()
		cancel()
		if err != nil {
			failed = true
			c.log.Error().Err(err).Dur("retry_in", backoff).Msg("vault token refresh failed")
			backoff = min(backoff*2, maxRetryBackoff)
			continue
		}
		failed, backoff = false, minRetryBackoff
	}
}
