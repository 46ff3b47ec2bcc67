package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/acme/secretsbroker/envfile"
)

// replayWarning ends every exit-4 message: the one legitimate consumer of a
// bootstrap token is this sandbox's first run.
const replayWarning = "if this sandbox did not use it before, someone else may have intercepted it and now holds its secrets: alert the platform team and rotate the secrets"

// bootResult is what a bootstrap yields, in part even when it fails. env
// holds secret values.
type bootResult struct {
	env          map[string]string
	creationTime string
	vaultCalls   int
	tokenFile    string // "" (no file), "truncated", "kept" or the truncation error
}

// bootstrap looks the token up, checks its creation path, unwraps it and
// returns the env bundle, all within cfg.deadline. Errors are *failure with
// exit code 3, 4 or 5 (1 for a bundle that cannot be used, 2 for bad
// address or TLS settings). The token file, if any, is emptied once the
// token is spent (unwrapped, or reported dead); it is kept when Vault was
// unreachable or the token forged, for a retry or an investigation.
func bootstrap(ctx context.Context, cfg config) (bootResult, error) {
	res, err := lookupAndUnwrap(ctx, cfg)
	if cfg.tokenFile != "" {
		res.tokenFile = "kept"
		if err == nil || exitCode(err) == exitTokenDead || exitCode(err) == exitFailure {
			res.tokenFile = "truncated"
			if terr := truncate(cfg.tokenFile); terr != nil {
				res.tokenFile = "not truncated: " + terr.Error() // not fatal: the token is spent anyway
			}
		}
	}
	return res, err
}

func lookupAndUnwrap(ctx context.Context, cfg config) (bootResult, error) {
	var res bootResult
	ctx, cancel := context.WithTimeout(ctx, cfg.deadline)
	defer cancel()
	start := time.Now()

	// 1. Lookup: unauthenticated, does not consume the token, safe to retry.
	lc, err := newVaultClient(cfg, "")
	if err != nil {
		return res, fail(exitUsage, err, "invalid Vault client configuration")
	}
	info, kind, err := lookup(ctx, lc, cfg.token, &res.vaultCalls)
	switch kind {
	case callRejected:
		return res, fail(exitTokenDead, nil, "bootstrap token is expired, unknown or already used (lookup refused); %s", replayWarning)
	case callRetry:
		return res, fail(exitUnreachable, errors.New(describe(err)),
			"vault unreachable: gave up after %d lookup attempts in %s (deadline %s)",
			res.vaultCalls, time.Since(start).Round(time.Millisecond), cfg.deadline)
	}
	res.creationTime, _ = info.Data["creation_time"].(string)
	path, _ := info.Data["creation_path"].(string)
	if want := cfg.creationPath(); path != want {
		return res, fail(exitForged, nil,
			"bootstrap token has creation path %q, want %q: it was not minted by the broker for this sandbox and may be forged to inject attacker-chosen values; it was NOT unwrapped",
			path, want)
	}

	// 2. Unwrap with a client holding only the wrapping token. A retry is safe
	// only when the request provably never reached Vault.
	uc, err := newVaultClient(cfg, cfg.token)
	if err != nil {
		return res, fail(exitUsage, err, "invalid Vault client configuration")
	}
	var sec *api.Secret
	for n := 1; ; n++ {
		res.vaultCalls++
		sec, err = uc.Logical().UnwrapWithContext(ctx, "")
		switch classify(err, true) {
		case callOK:
			if sec == nil {
				return res, fail(exitFailure, nil, "vault returned an empty unwrap response")
			}
			env, berr := bundleEnv(sec)
			if berr != nil {
				return res, fail(exitFailure, berr, "bootstrap bundle refused (the token is spent)")
			}
			res.env = env
			return res, nil
		case callRejected:
			return res, fail(exitTokenDead, nil,
				"bootstrap token was valid at lookup but is already used or revoked at unwrap (race or replay); %s", replayWarning)
		case callUnknown:
			// Vault may or may not have spent the token (it answers 500 to
			// some of several concurrent unwraps). Ask it: a token that is
			// gone while this process holds no data was spent elsewhere,
			// which is the interception alarm, not an outage.
			_, kind, lerr := lookup(ctx, lc, cfg.token, &res.vaultCalls)
			switch kind {
			case callRejected:
				return res, fail(exitTokenDead, nil,
					"bootstrap token was valid at lookup but is gone after an unconfirmed unwrap (race or replay); %s", replayWarning)
			case callRetry:
				return res, fail(exitUnreachable, errors.New(describe(err)),
					"vault did not confirm the unwrap and could not be asked whether the token is spent (%s)", describe(lerr))
			}
			// Still there: the unwrap never took effect, so it is safe to retry.
		}
		if !sleepCtx(ctx, backoff(n)) {
			return res, fail(exitUnreachable, errors.New(describe(err)),
				"vault unreachable: gave up unwrapping after %s (deadline %s)",
				time.Since(start).Round(time.Millisecond), cfg.deadline)
		}
	}
}

// lookup asks Vault about token (unauthenticated; it does not consume the
// token), retrying what Vault did not process until ctx ends. It answers
// callOK with the token's info, callRejected when Vault knows no such live
// token, or callRetry with the last error when Vault stayed unreachable.
// calls counts every attempt.
func lookup(ctx context.Context, c *api.Client, token string, calls *int) (*api.Secret, callKind, error) {
	for n := 1; ; n++ {
		*calls++
		info, err := c.Logical().WriteWithContext(ctx, "sys/wrapping/lookup", map[string]any{"token": token})
		kind := classify(err, false)
		if kind == callOK && info == nil {
			kind = callRejected // Vault found no such token
		}
		if kind == callOK || kind == callRejected {
			return info, kind, nil
		}
		if !sleepCtx(ctx, backoff(n)) {
			return nil, callRetry, err
		}
	}
}

// bundleEnv extracts the env vars from an unwrapped KV v2 read: data.data is
// NAME -> value. Every name must be a valid shell name and every value a
// string without NUL. Errors name variables, never values.
func bundleEnv(sec *api.Secret) (map[string]string, error) {
	raw, ok := sec.Data["data"]
	if !ok {
		return nil, errors.New("no data.data in the unwrapped response (not a KV v2 read)")
	}
	fields, ok := raw.(map[string]any)
	if raw != nil && !ok {
		return nil, fmt.Errorf("data.data is a %T, not an object", raw)
	}
	env := make(map[string]string, len(fields))
	for name, v := range fields {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("variable %q is a %T, not a string", name, v)
		}
		env[name] = s
	}
	if err := envfile.Validate(env); err != nil {
		return nil, err
	}
	return env, nil
}

// truncate empties the token file if this process may write it.
func truncate(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
