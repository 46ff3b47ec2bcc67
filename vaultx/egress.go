package vaultx

import (
	"context"

	json "github.com/segmentio/encoding/json"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/layout"
)

// Egress records (docs/design.md, "Egress delivery"): the broker writes them
// at provisioning with delivery "egress" and removes them at restart and
// delete; egressd reads them. The KV v2 data of each record is exactly the
// JSON object of broker.SandboxEgress or broker.PlaceholderRecord.

var (
	errEgressSandboxNotFound     = &broker.Error{Code: broker.CodeNotFound, Message: "egress sandbox not found"}
	errEgressPlaceholderNotFound = &broker.Error{Code: broker.CodeNotFound, Message: "egress placeholder not found"}
)

// egressRecordData is the KV data of an egress record: its JSON object.
func egressRecordData(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, broker.WithCode(broker.CodeInternal, err, "encode egress record")
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, broker.WithCode(broker.CodeInternal, err, "encode egress record")
	}
	return m, nil
}

// EgressSandbox reads the egress record of sandboxID
// (layout.EgressSandboxPath). Errors: invalid (bad id), not_found,
// unavailable, internal.
func (c *Client) EgressSandbox(ctx context.Context, sandboxID string) (broker.SandboxEgress, error) {
	if err := pathSegment("sandbox_id", sandboxID); err != nil {
		return broker.SandboxEgress{}, err
	}
	r, _, err := kvReadInto[broker.SandboxEgress](ctx, c, layout.EgressSandboxPath(sandboxID), 0)
	if err != nil {
		return broker.SandboxEgress{}, mapErr(err, "read egress sandbox", errEgressSandboxNotFound)
	}
	return r, nil
}

// EgressPlaceholder reads the record of the placeholder whose token hashes
// to tokenHash (broker.TokenHash; layout.EgressPlaceholderPath).
// Errors: invalid (bad hash), not_found, unavailable, internal.
func (c *Client) EgressPlaceholder(ctx context.Context, tokenHash string) (broker.PlaceholderRecord, error) {
	if err := pathSegment("token_hash", tokenHash); err != nil {
		return broker.PlaceholderRecord{}, err
	}
	r, _, err := kvReadInto[broker.PlaceholderRecord](ctx, c, layout.EgressPlaceholderPath(tokenHash), 0)
	if err != nil {
		return broker.PlaceholderRecord{}, mapErr(err, "read egress placeholder", errEgressPlaceholderNotFound)
	}
	return r, nil
}

// CurrentValue reads the current ciphertext of the user's secret and
// decrypts it with transit in the user's context: two Vault calls. The
// value is returned to the caller only, never logged.
// Errors: invalid, not_found (no such secret of this user), forbidden (the
// ciphertext is not of this user's context), unavailable, internal.
func (c *Client) CurrentValue(ctx context.Context, userID, secretID string) (string, error) {
	named, err := c.NamedCiphertexts(ctx, userID, []string{secretID})
	if err != nil {
		return "", err
	}
	plain, err := c.DecryptBatch(ctx, userID, []string{named[0].Ciphertext})
	if err != nil {
		return "", err
	}
	return string(plain[0]), nil
}

// PutEgress writes the egress records of one sandbox: its SandboxEgress and
// one PlaceholderRecord per token hash, concurrently (at most 16 at a time).
// On failure the records written so far are removed again.
// Errors: invalid (bad ids), unavailable, internal.
func (c *Client) PutEgress(ctx context.Context, sb broker.SandboxEgress, placeholders map[string]broker.PlaceholderRecord) error {
	if err := pathSegment("sandbox_id", sb.SandboxID); err != nil {
		return err
	}
	paths := []string{layout.EgressSandboxPath(sb.SandboxID)}
	docs := []any{sb}
	hashes := make([]string, 0, len(placeholders))
	for h, rec := range placeholders {
		if err := pathSegment("token_hash", h); err != nil {
			return err
		}
		paths = append(paths, layout.EgressPlaceholderPath(h))
		docs = append(docs, rec)
		hashes = append(hashes, h)
	}
	data := make([]map[string]any, len(docs))
	for i, d := range docs {
		m, err := egressRecordData(d)
		if err != nil {
			return err
		}
		data[i] = m
	}
	err := parallel(ctx, len(paths), func(ctx context.Context, i int) error {
		_, err := c.kvWrite(ctx, paths[i], data[i], -1)
		return err
	})
	if err != nil {
		c.cleanup(func(ctx context.Context) error { return c.deleteEgress(ctx, sb.SandboxID, hashes) }, "undo egress records")
		return mapErr(err, "write egress records", nil)
	}
	return nil
}

// DeleteEgress removes the egress records of a sandbox (its SandboxEgress
// and the placeholders of tokenHashes), concurrently. Absent records are not
// an error. Errors: invalid, unavailable, internal.
func (c *Client) DeleteEgress(ctx context.Context, sandboxID string, tokenHashes []string) error {
	if err := pathSegment("sandbox_id", sandboxID); err != nil {
		return err
	}
	for _, h := range tokenHashes {
		if err := pathSegment("token_hash", h); err != nil {
			return err
		}
	}
	return mapErr(c.deleteEgress(ctx, sandboxID, tokenHashes), "delete egress records", nil)
}

func (c *Client) deleteEgress(ctx context.Context, sandboxID string, tokenHashes []string) error {
	paths := make([]string, 0, 1+len(tokenHashes))
	paths = append(paths, layout.EgressSandboxPath(sandboxID))
	for _, h := range tokenHashes {
		paths = append(paths, layout.EgressPlaceholderPath(h))
	}
	return parallel(ctx, len(paths), func(ctx context.Context, i int) error {
		return c.kvDelete(ctx, paths[i])
	})
}
