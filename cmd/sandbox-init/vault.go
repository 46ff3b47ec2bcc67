package main

import (
	"context"
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

// callKind classifies the outcome of a Vault call. Only vaultx reads Vault
// status codes: sandbox-init shares its classification (vaultx.ClassifyCall)
// rather than keep its own. Importing vaultx costs the init container
// nothing extra: it already builds its api.Client with vaultx.NewAPIClient,
// so the package (and its dependencies) are linked in either way.
type callKind = vaultx.CallOutcome

const (
	callOK       = vaultx.CallOK       // no error
	callRejected = vaultx.CallRejected // Vault answered: the token is not valid (4xx but 429)
	callRetry    = vaultx.CallRetry    // Vault did not process the request (unreachable, sealed, 5xx, 429)
	callUnknown  = vaultx.CallUnknown  // the request may have reached Vault; its effect is unknown
)

// classify interprets a Vault call error. consuming says the call uses the
// token up (unwrap): a failure after the request may have reached Vault is
// then callUnknown, since retrying could only report the token as used.
func classify(err error, consuming bool) callKind { return vaultx.ClassifyCall(err, consuming) }

// describe says what went wrong without any response body or token.
func describe(err error) string { return vaultx.DescribeCallError(err) }

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
