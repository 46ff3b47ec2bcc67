package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/acme/secretsbroker/vaultx"
)

// callTimeout bounds each Vault call; the run's deadline bounds them all.
const callTimeout = 10 * time.Second

// newVaultClient returns a Vault client holding token and nothing else (""
// for none: vaultx resets whatever api.NewClient picked up from VAULT_TOKEN
// or VAULT_NAMESPACE). Each call is bounded by callTimeout; retries are ours
// (bounded by the deadline), not the library's. Errors: invalid (exit 2).
func newVaultClient(c config, token string) (*api.Client, error) {
	return vaultx.NewAPIClient(vaultx.Config{
		Addr:          c.vaultAddr,
		Token:         token,
		KVMount:       c.kvMount,
		Timeout:       callTimeout,
		MaxRetries:    -1,
		CACert:        c.tls.CACert,
		CAPath:        c.tls.CAPath,
		ClientCert:    c.tls.ClientCert,
		ClientKey:     c.tls.ClientKey,
		TLSServerName: c.tls.TLSServerName,
		Insecure:      c.tls.Insecure,
	}, vaultx.APIOptions{})
}

// callKind classifies the outcome of a Vault call.
type callKind int

const (
	callOK       callKind = iota
	callRejected          // Vault answered: the token is not valid (4xx but 429)
	callRetry             // Vault did not process the request (unreachable, sealed, 5xx, 429)
	callUnknown           // the request may have reached Vault; its effect is unknown
)

// classify interprets a Vault call error. consuming says the call uses the
// token up (unwrap): a failure after the request may have reached Vault is
// then callUnknown, since retrying could only report the token as used.
func classify(err error, consuming bool) callKind {
	if err == nil {
		return callOK
	}
	var re *api.ResponseError
	if errors.As(err, &re) {
		switch {
		case re.StatusCode == http.StatusTooManyRequests, re.StatusCode == http.StatusServiceUnavailable:
			return callRetry // rate limited, sealed or standby: not processed
		case re.StatusCode >= 500:
			if consuming {
				return callUnknown
			}
			return callRetry
		case re.StatusCode >= 400:
			return callRejected
		}
		return callUnknown
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return callRetry // never left this host
	}
	if consuming {
		return callUnknown
	}
	return callRetry
}

// describe says what went wrong without any response body or token.
func describe(err error) string {
	var re *api.ResponseError
	if errors.As(err, &re) {
		return fmt.Sprintf("vault answered HTTP %d", re.StatusCode)
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return fmt.Sprintf("%s %s: %v", op.Op, op.Net, op.Err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	return fmt.Sprintf("%T", err)
}

// backoff returns the wait before attempt n+1 (n from 1): 200 ms doubling to 2 s.
func backoff(n int) time.Duration {
	d := 200 * time.Millisecond << min(n-1, 4)
	return min(d, 2*time.Second)
}

// sleepCtx waits d or until ctx ends; it reports whether the full wait elapsed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
