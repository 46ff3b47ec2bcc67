package vaultx

import (
	"context"
	"net/http"

	"github.com/acme/secretsbroker/broker"
)

// RewrapBatch rewraps the ciphertexts of userID to the key's latest version
// in ONE transit call (batch_input, context = base64(userID)); the plaintext
// never leaves Vault. out[i] is "" when transit refused item i (a ciphertext
// of another context, tampered, or below the minimum decryption version).
// Errors: unavailable, forbidden, internal.
func (c *Client) RewrapBatch(ctx context.Context, userID string, cts []string) ([]string, error) {
	if len(cts) == 0 {
		return nil, nil
	}
	uctx := userContext(userID)
	in := make([]transitItem, len(cts))
	for i, ct := range cts {
		in[i] = transitItem{Ciphertext: ct, Context: uctx}
	}
	env, err := c.do(ctx, request{method: http.MethodPost, path: c.transitPath("rewrap"),
		body: transitBatch{BatchInput: in}, bodyOnError: true})
	var d struct {
		BatchResults []struct {
			Ciphertext string `json:"ciphertext"`
			Error      string `json:"error"`
		} `json:"batch_results"`
	}
	if env != nil {
		if derr := env.decode(&d); derr != nil {
			return nil, broker.WithCode(broker.CodeInternal, derr, "rewrap: malformed vault answer")
		}
	}
	if len(d.BatchResults) != len(cts) {
		if err != nil {
			return nil, mapErr(err, "rewrap", nil)
		}
		return nil, broker.Errorf(broker.CodeInternal, "rewrap: vault answered %d results for %d inputs", len(d.BatchResults), len(cts))
	}
	out := make([]string, len(cts))
	for i, r := range d.BatchResults {
		if r.Error == "" && ciphertextKeyVersion(r.Ciphertext) > 0 {
			out[i] = r.Ciphertext
		}
	}
	return out, nil
}
