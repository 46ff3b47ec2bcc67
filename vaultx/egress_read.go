package vaultx

import (
	"context"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/layout"
)

// Egress records, as egressd reads them (broker/egress.go is the contract;
// the broker writes them at provisioning). Each record's KV data is exactly
// the JSON object of its struct.

// EgressSandbox reads the egress record of sandboxID
// (layout.EgressSandboxPath). Errors: invalid (bad id), not_found (no
// record: never provisioned for egress, restarted or deleted), unavailable,
// internal.
func (c *Client) EgressSandbox(ctx context.Context, sandboxID string) (broker.SandboxEgress, error) {
	if err := pathSegment("sandbox_id", sandboxID); err != nil {
		return broker.SandboxEgress{}, err
	}
	rec, _, err := kvReadInto[broker.SandboxEgress](ctx, c, layout.EgressSandboxPath(sandboxID), 0)
	if err != nil {
		return broker.SandboxEgress{}, mapErr(err, "read egress sandbox", broker.Errorf(broker.CodeNotFound, "egress sandbox not found"))
	}
	return rec, nil
}

// EgressPlaceholder reads the record of the placeholder whose token hashes
// to tokenHash (layout.EgressPlaceholderPath). Errors: invalid, not_found,
// unavailable, internal.
func (c *Client) EgressPlaceholder(ctx context.Context, tokenHash string) (broker.PlaceholderRecord, error) {
	if err := pathSegment("token_hash", tokenHash); err != nil {
		return broker.PlaceholderRecord{}, err
	}
	rec, _, err := kvReadInto[broker.PlaceholderRecord](ctx, c, layout.EgressPlaceholderPath(tokenHash), 0)
	if err != nil {
		return broker.PlaceholderRecord{}, mapErr(err, "read egress placeholder", broker.Errorf(broker.CodeNotFound, "placeholder not found"))
	}
	return rec, nil
}

// CurrentValue reads the current ciphertext of the secret and decrypts it
// with transit in the user's context. The value is returned to the caller
// only: never logged. Errors: invalid, not_found (the secret is gone),
// forbidden (the ciphertext is not this user's), unavailable, internal.
func (c *Client) CurrentValue(ctx context.Context, userID, secretID string) (string, error) {
	cts, err := c.Ciphertexts(ctx, userID, []string{secretID})
	if err != nil {
		return "", err
	}
	pts, err := c.DecryptBatch(ctx, userID, cts)
	if err != nil {
		return "", err
	}
	return string(pts[0]), nil
}
