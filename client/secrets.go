package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/acme/secretsbroker/broker"
)

// The API's objects, as the broker's own types (package broker imports only
// the standard library).
type (
	Secret        = broker.Secret
	SecretVersion = broker.SecretVersion
	Preset        = broker.Preset
	FieldError    = broker.FieldError
)

// SecretList is the answer of ListSecrets.
type SecretList struct {
	Secrets []Secret `json:"secrets"`
	Total   int      `json:"total"`
}

// VersionList is the answer of ListVersions.
type VersionList struct {
	Versions []SecretVersion `json:"versions"`
	Total    int             `json:"total"`
}

// CreateSecretRequest is the body of CreateSecret. Provider is optional.
type CreateSecretRequest struct {
	Name     string  `json:"name"`
	Value    string  `json:"value"`
	Provider *string `json:"provider,omitempty"`
	// EgressHosts are the hosts egressd may send the value to (egress
	// delivery); none: env delivery only.
	EgressHosts []string `json:"egress_hosts,omitempty"`
}

func secretPath(id string) string { return apiPrefix + "/user/secrets/" + url.PathEscape(id) }

// ListSecrets returns the caller's secrets (masked previews only), sorted by
// name. Errors: unauthenticated, unavailable, internal.
func (c *Client) ListSecrets(ctx context.Context, opts ...CallOption) (SecretList, error) {
	var l SecretList
	err := c.send(ctx, http.MethodGet, apiPrefix+"/user/secrets", nil, &l, opts)
	return l, err
}

// CreateSecret stores a new secret. Errors: invalid (with Fields), conflict
// (the name exists), unauthenticated, unavailable, internal.
func (c *Client) CreateSecret(ctx context.Context, in CreateSecretRequest, opts ...CallOption) (Secret, error) {
	var s Secret
	err := c.send(ctx, http.MethodPost, apiPrefix+"/user/secrets", in, &s, opts)
	return s, err
}

// GetSecret returns one of the caller's secrets. Errors: not_found (absent
// or someone else's), unauthenticated, unavailable, internal.
func (c *Client) GetSecret(ctx context.Context, id string, opts ...CallOption) (Secret, error) {
	var s Secret
	err := c.send(ctx, http.MethodGet, secretPath(id), nil, &s, opts)
	return s, err
}

// UpdateSecret stores a new value (a new version) for a secret. Never
// retried. Errors: invalid, not_found, unauthenticated, unavailable, internal.
func (c *Client) UpdateSecret(ctx context.Context, id, value string, opts ...CallOption) (Secret, error) {
	var s Secret
	err := c.send(ctx, http.MethodPut, secretPath(id), map[string]string{"value": value}, &s, opts)
	return s, err
}

// SetEgressHosts replaces a secret's egress_hosts (an empty slice removes
// them) without a new version. Never retried. Errors: invalid (with Fields),
// not_found, unauthenticated, unavailable, internal.
func (c *Client) SetEgressHosts(ctx context.Context, id string, hosts []string, opts ...CallOption) (Secret, error) {
	if hosts == nil {
		hosts = []string{}
	}
	var s Secret
	err := c.send(ctx, http.MethodPut, secretPath(id), map[string][]string{"egress_hosts": hosts}, &s, opts)
	return s, err
}

// DeleteSecret deletes a secret. Never retried. Errors: not_found,
// unauthenticated, unavailable, internal.
func (c *Client) DeleteSecret(ctx context.Context, id string, opts ...CallOption) error {
	return c.send(ctx, http.MethodDelete, secretPath(id), nil, nil, opts)
}

// ListVersions returns a secret's versions. Errors: not_found,
// unauthenticated, unavailable, internal.
func (c *Client) ListVersions(ctx context.Context, id string, opts ...CallOption) (VersionList, error) {
	var l VersionList
	err := c.send(ctx, http.MethodGet, secretPath(id)+"/versions", nil, &l, opts)
	return l, err
}

// Rollback makes version's value current again, as a new version. Errors:
// invalid (no such live version), not_found, unauthenticated, unavailable, internal.
func (c *Client) Rollback(ctx context.Context, id string, version int, opts ...CallOption) (Secret, error) {
	var s Secret
	err := c.send(ctx, http.MethodPost, secretPath(id)+"/rollback", map[string]int{"version": version}, &s, opts)
	return s, err
}

// ListPresets returns the presets and whether the caller has configured
// each. Errors: unauthenticated, unavailable, internal.
func (c *Client) ListPresets(ctx context.Context, opts ...CallOption) ([]Preset, error) {
	var l struct {
		Presets []Preset `json:"presets"`
	}
	err := c.send(ctx, http.MethodGet, apiPrefix+"/user/secrets/presets", nil, &l, opts)
	return l.Presets, err
}

// CreateFromPreset stores the secret of a preset, named after its env var.
// Errors: invalid (unknown provider, bad value), conflict, unauthenticated,
// unavailable, internal.
func (c *Client) CreateFromPreset(ctx context.Context, provider, value string, opts ...CallOption) (Secret, error) {
	var s Secret
	err := c.send(ctx, http.MethodPost, apiPrefix+"/user/secrets/preset", map[string]string{"provider": provider, "value": value}, &s, opts)
	return s, err
}
