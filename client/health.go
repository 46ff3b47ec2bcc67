package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// Readiness is the answer of Readyz: "ready", "degraded" (an optional
// dependency is down) or "unavailable", with one check per dependency.
type Readiness struct {
	Status string           `json:"status"`
	Checks map[string]Probe `json:"checks"`
}

// Probe is one dependency's state: ok, unavailable or disabled.
type Probe struct {
	Status string `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// Healthz reports whether the broker process answers (no credentials
// needed). Errors: unavailable (no answer or 503), internal.
func (c *Client) Healthz(ctx context.Context) error {
	return c.send(ctx, http.MethodGet, "/healthz", nil, nil, nil)
}

// Readyz returns the broker's readiness. When a required dependency is down
// the broker answers 503: Readyz returns the decoded checks and an
// *APIError with code unavailable.
func (c *Client) Readyz(ctx context.Context) (Readiness, error) {
	var r Readiness
	res, err := c.attempts(ctx, http.MethodGet, "/readyz", nil, nil, true)
	if err != nil {
		return r, err
	}
	if json.Unmarshal(res.Body, &r) != nil && res.Err() == nil {
		return r, fmt.Errorf("client: the broker's answer to GET /readyz is not the expected JSON")
	}
	return r, res.Err()
}

// Metrics returns the broker's Prometheus exposition text. Errors:
// unavailable, internal, and whatever the status of the answer maps to.
func (c *Client) Metrics(ctx context.Context) ([]byte, error) {
	var raw []byte
	err := c.send(ctx, http.MethodGet, "/metrics", nil, nil, []CallOption{RawBody(&raw)})
	return raw, err
}

// OpenAPI returns the broker's OpenAPI document (JSON). Errors: not_found
// (none configured), unavailable, internal.
func (c *Client) OpenAPI(ctx context.Context) ([]byte, error) {
	var raw []byte
	err := c.send(ctx, http.MethodGet, "/openapi.json", nil, nil, []CallOption{RawBody(&raw)})
	return raw, err
}
