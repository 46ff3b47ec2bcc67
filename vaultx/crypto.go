package vaultx

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/acme/secretsbroker/broker"
)

// fingerprintLen is how many characters of the HMAC's base64 a fingerprint keeps.
const fingerprintLen = 16

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// userContext is the transit derivation context: the user id.
func userContext(userID string) string { return b64([]byte(userID)) }

func (c *Client) transitPath(op string) string {
	return c.cfg.TransitMount + "/" + op + "/" + c.cfg.TransitKey
}

// Encrypt encrypts plaintext with the transit key derived for userID
// (context = base64(userID)); the result starts with "vault:v".
// Errors: invalid (empty user id), unavailable, internal.
func (c *Client) Encrypt(ctx context.Context, userID string, plaintext []byte) (string, error) {
	if userID == "" {
		return "", broker.Invalid(broker.FieldError{Field: "user_id", Message: "must not be empty"})
	}
	env, err := c.do(ctx, request{method: http.MethodPost, path: c.transitPath("encrypt"), body: struct {
		Plaintext string `json:"plaintext"`
		Context   string `json:"context"`
	}{b64(plaintext), userContext(userID)}})
	if err != nil {
		return "", mapErr(err, "encrypt", nil)
	}
	var d struct {
		Ciphertext string `json:"ciphertext"`
	}
	if err := env.decode(&d); err != nil || d.Ciphertext == "" {
		return "", broker.WithCode(broker.CodeInternal, err, "encrypt: malformed vault answer")
	}
	return d.Ciphertext, nil
}

// transitItem is one transit decrypt or rewrap input (structs rather than
// maps: encoding a map sorts its keys on every call).
type transitItem struct {
	Ciphertext string `json:"ciphertext"`
	Context    string `json:"context"`
}

type transitBatch struct {
	BatchInput []transitItem `json:"batch_input"`
}

type batchItem struct {
	Plaintext string `json:"plaintext"`
	Error     string `json:"error"`
}

// DecryptBatch decrypts all ciphertexts in ONE transit call (batch_input),
// in order. An item that fails authentication (a ciphertext of another user's
// context, or tampered) makes the whole call forbidden; any other item error
// is internal. Errors: forbidden, unavailable, internal.
func (c *Client) DecryptBatch(ctx context.Context, userID string, ciphertexts []string) ([][]byte, error) {
	if len(ciphertexts) == 0 {
		return [][]byte{}, nil
	}
	if userID == "" {
		return nil, broker.Invalid(broker.FieldError{Field: "user_id", Message: "must not be empty"})
	}
	uctx := userContext(userID)
	in := make([]transitItem, len(ciphertexts))
	for i, ct := range ciphertexts {
		in[i] = transitItem{Ciphertext: ct, Context: uctx}
	}
	env, err := c.do(ctx, request{method: http.MethodPost, path: c.transitPath("decrypt"),
		body: transitBatch{BatchInput: in}, bodyOnError: true})
	var d struct {
		BatchResults []batchItem `json:"batch_results"`
	}
	if env != nil {
		if derr := env.decode(&d); derr != nil {
			return nil, broker.WithCode(broker.CodeInternal, derr, "decrypt: malformed vault answer")
		}
	}
	if len(d.BatchResults) != len(ciphertexts) {
		if err != nil {
			return nil, mapErr(err, "decrypt", nil)
		}
		return nil, broker.Errorf(broker.CodeInternal, "decrypt: vault answered %d results for %d inputs", len(d.BatchResults), len(ciphertexts))
	}
	out := make([][]byte, len(ciphertexts))
	for i, r := range d.BatchResults {
		if r.Error != "" {
			if isAuthFailure(r.Error) {
				return nil, broker.Errorf(broker.CodeForbidden, "decrypt: a ciphertext does not belong to this user")
			}
			return nil, broker.Errorf(broker.CodeInternal, "decrypt: vault could not decrypt item %d", i)
		}
		pt, derr := base64.StdEncoding.DecodeString(r.Plaintext)
		if derr != nil {
			return nil, broker.Errorf(broker.CodeInternal, "decrypt: malformed plaintext for item %d", i)
		}
		out[i] = pt
	}
	return out, nil
}

// isAuthFailure reports whether a transit batch item error is an AEAD
// authentication failure, which is what decrypting with the wrong derivation
// context (another user's ciphertext) or a tampered ciphertext produces.
// Transit reports per-item errors only as text: this is the one place that
// reads it.
func isAuthFailure(itemErr string) bool {
	return strings.Contains(itemErr, "message authentication failed")
}

// Fingerprint returns a short, keyed fingerprint of a value for userID:
//
//	"hmac:" + the first 16 characters of the base64 part of
//	transit HMAC-SHA-256(key, userID + "\x00" + value)
//
// 16 base64 characters are 96 bits: enough to tell versions apart, and
// without the transit key it reveals nothing about the value. The user id in
// the input makes equal values of two users fingerprint differently. A
// rotation of the transit key changes fingerprints of values written after it.
// Errors: invalid, unavailable, internal.
func (c *Client) Fingerprint(ctx context.Context, userID string, plaintext []byte) (string, error) {
	if userID == "" {
		return "", broker.Invalid(broker.FieldError{Field: "user_id", Message: "must not be empty"})
	}
	input := make([]byte, 0, len(userID)+1+len(plaintext))
	input = append(append(append(input, userID...), 0), plaintext...)
	env, err := c.do(ctx, request{method: http.MethodPost, path: c.transitPath("hmac") + "/sha2-256",
		body: struct {
			Input string `json:"input"`
		}{b64(input)}})
	if err != nil {
		return "", mapErr(err, "fingerprint", nil)
	}
	var d struct {
		HMAC string `json:"hmac"`
	}
	if err := env.decode(&d); err != nil {
		return "", broker.WithCode(broker.CodeInternal, err, "fingerprint: malformed vault answer")
	}
	return shortFingerprint(d.HMAC)
}

// shortFingerprint turns "vault:v1:<base64>" into "hmac:<16 chars>".
func shortFingerprint(h string) (string, error) {
	i := strings.LastIndexByte(h, ':')
	if !strings.HasPrefix(h, "vault:v") || i < 0 || len(h)-i-1 < fingerprintLen {
		return "", broker.Errorf(broker.CodeInternal, "fingerprint: malformed vault hmac")
	}
	return "hmac:" + h[i+1:i+1+fingerprintLen], nil
}
