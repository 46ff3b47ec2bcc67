package vaultx

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/rotation"
)

// Key rotation primitives (operator side, with a token allowed to manage the
// transit key): RotateKey, KeyInfo and SetMinDecryptionVersion here, and
// what package rotation's workflow needs (rotation.Vault) in
// rotate_primitives.go and rotate_transit.go.

func (c *Client) transitKeyPath(suffix string) string {
	p := c.cfg.TransitMount + "/keys/" + c.cfg.TransitKey
	if suffix != "" {
		p += "/" + suffix
	}
	return p
}

// KeyInfo reads the transit key's versions (transit/keys/<key>).
// Errors: not_found (no such key), forbidden, unavailable, internal.
func (c *Client) KeyInfo(ctx context.Context) (rotation.KeyInfo, error) {
	env, err := c.do(ctx, request{method: http.MethodGet, path: c.transitKeyPath("")})
	if err != nil {
		return rotation.KeyInfo{}, mapErr(err, "read transit key", broker.Errorf(broker.CodeNotFound, "transit key %s/%s not found", c.cfg.TransitMount, c.cfg.TransitKey))
	}
	var d struct {
		Name                 string `json:"name"`
		Type                 string `json:"type"`
		Derived              bool   `json:"derived"`
		LatestVersion        int    `json:"latest_version"`
		MinDecryptionVersion int    `json:"min_decryption_version"`
		MinEncryptionVersion int    `json:"min_encryption_version"`
	}
	if err := env.decode(&d); err != nil || d.LatestVersion < 1 {
		return rotation.KeyInfo{}, broker.WithCode(broker.CodeInternal, err, "read transit key: malformed vault answer")
	}
	return rotation.KeyInfo(d), nil
}

// RotateKey adds a new version to the transit key (transit/keys/<key>/rotate)
// and returns the key as it is afterwards: new encryptions use the new version
// at once; existing ciphertexts keep decrypting until the minimum decryption
// version is raised past their version.
// Errors: not_found, forbidden, unavailable, internal.
func (c *Client) RotateKey(ctx context.Context) (rotation.KeyInfo, error) {
	_, err := c.do(ctx, request{method: http.MethodPost, path: c.transitKeyPath("rotate")})
	if err != nil {
		return rotation.KeyInfo{}, mapErr(err, "rotate transit key", broker.Errorf(broker.CodeNotFound, "transit key %s/%s not found", c.cfg.TransitMount, c.cfg.TransitKey))
	}
	return c.KeyInfo(ctx)
}

// SetMinDecryptionVersion sets the transit key's min_decryption_version to v
// (transit/keys/<key>/config), with no safety check: ciphertexts of older key
// versions stop decrypting, and stop rewrapping, at once. Operators should go
// through rotation.Rotator.RaiseMinDecryptionVersion, which checks the stored
// versions first.
// Errors: invalid (v < 1 or above the latest version), not_found, forbidden,
// unavailable, internal.
func (c *Client) SetMinDecryptionVersion(ctx context.Context, v int) error {
	if v < 1 {
		return broker.Invalid(broker.FieldError{Field: "min_decryption_version", Message: "must be at least 1"})
	}
	info, err := c.KeyInfo(ctx)
	if err != nil {
		return err
	}
	if v > info.LatestVersion {
		return broker.Invalid(broker.FieldError{Field: "min_decryption_version",
			Message: "must not exceed the key's latest version " + strconv.Itoa(info.LatestVersion)})
	}
	_, err = c.do(ctx, request{method: http.MethodPost, path: c.transitKeyPath("config"),
		body: map[string]int{"min_decryption_version": v}})
	return mapErr(err, "configure transit key", broker.Errorf(broker.CodeNotFound, "transit key %s/%s not found", c.cfg.TransitMount, c.cfg.TransitKey))
}

// ciphertextKeyVersion returns N of a transit ciphertext "vault:vN:...", or
// 0 when ct is not one.
func ciphertextKeyVersion(ct string) int {
	rest, ok := strings.CutPrefix(ct, "vault:v")
	if !ok {
		return 0
	}
	num, _, ok := strings.Cut(rest, ":")
	if !ok || num == "" || len(num) > 9 {
		return 0
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 {
		return 0
	}
	return n
}
