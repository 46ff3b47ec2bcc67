package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/acme/secretsbroker/broker"
)

// The provisioning objects, as the broker's own types. A Sandbox's Bootstrap
// (with its one-time token) is set only in the answer of the call that
// minted it, and not in a replay of that call (Idempotency-Key).
type (
	Runtime        = broker.Runtime
	Evaluation     = broker.Evaluation
	EvaluationItem = broker.EvaluationItem
	Sandbox        = broker.Sandbox
	Bootstrap      = broker.Bootstrap
)

// CreateRuntimeRequest is the body of CreateRuntime.
type CreateRuntimeRequest struct {
	ProjectID string   `json:"project_id"`
	Name      string   `json:"name,omitempty"`
	SecretIDs []string `json:"secret_ids"`
	// Delivery is broker.DeliveryEnv or broker.DeliveryEgress ("": the
	// broker's default).
	Delivery string `json:"delivery,omitempty"`
}

// RuntimeList is the answer of ListRuntimes.
type RuntimeList struct {
	Runtimes []Runtime `json:"runtimes"`
	Total    int       `json:"total"`
}

// CreateEvaluationRequest is the body of CreateEvaluation.
type CreateEvaluationRequest struct {
	ProjectID string               `json:"project_id"`
	SecretIDs []string             `json:"secret_ids"`
	Items     []EvaluationItemSpec `json:"items"`
	Delivery  string               `json:"delivery,omitempty"`
}

// EvaluationItemSpec names one item of CreateEvaluationRequest.
type EvaluationItemSpec struct {
	Name string `json:"name"`
}

func runtimePath(id string) string { return apiPrefix + "/runtimes/" + url.PathEscape(id) }

// CreateRuntime provisions a runtime with a sandbox and its bootstrap.
// Errors: invalid, not_found (a secret id), unauthenticated, unavailable, internal.
func (c *Client) CreateRuntime(ctx context.Context, in CreateRuntimeRequest, opts ...CallOption) (Runtime, error) {
	var r Runtime
	err := c.send(ctx, http.MethodPost, apiPrefix+"/runtimes", in, &r, opts)
	return r, err
}

// ListRuntimes returns the caller's runtimes, never a token. Errors:
// unauthenticated, unavailable, internal.
func (c *Client) ListRuntimes(ctx context.Context, opts ...CallOption) (RuntimeList, error) {
	var l RuntimeList
	err := c.send(ctx, http.MethodGet, apiPrefix+"/runtimes", nil, &l, opts)
	return l, err
}

// GetRuntime returns one runtime, never a token. Errors: not_found,
// unauthenticated, unavailable, internal.
func (c *Client) GetRuntime(ctx context.Context, id string, opts ...CallOption) (Runtime, error) {
	var r Runtime
	err := c.send(ctx, http.MethodGet, runtimePath(id), nil, &r, opts)
	return r, err
}

// RestartRuntime gives a runtime a new sandbox and revokes the old bootstrap
// token; secretIDs, when not nil, replaces the selection (an empty, non-nil
// slice selects none). Errors: invalid, not_found, unauthenticated,
// unavailable, internal.
func (c *Client) RestartRuntime(ctx context.Context, id string, secretIDs []string, opts ...CallOption) (Runtime, error) {
	var in any
	if secretIDs != nil {
		in = map[string][]string{"secret_ids": secretIDs}
	}
	var r Runtime
	err := c.send(ctx, http.MethodPost, runtimePath(id)+"/restart", in, &r, opts)
	return r, err
}

// DeleteRuntime deletes a runtime and revokes its outstanding tokens. Never
// retried. Errors: not_found, unauthenticated, unavailable, internal.
func (c *Client) DeleteRuntime(ctx context.Context, id string, opts ...CallOption) error {
	return c.send(ctx, http.MethodDelete, runtimePath(id), nil, nil, opts)
}

// CreateEvaluation provisions, per item, a runtime and a task sandbox, each
// with its own bootstrap. Errors: invalid, not_found, unauthenticated,
// unavailable, internal.
func (c *Client) CreateEvaluation(ctx context.Context, in CreateEvaluationRequest, opts ...CallOption) (Evaluation, error) {
	var e Evaluation
	err := c.send(ctx, http.MethodPost, apiPrefix+"/evaluations", in, &e, opts)
	return e, err
}

// GetEvaluation returns an evaluation, never a token. Errors: not_found,
// unauthenticated, unavailable, internal.
func (c *Client) GetEvaluation(ctx context.Context, id string, opts ...CallOption) (Evaluation, error) {
	var e Evaluation
	err := c.send(ctx, http.MethodGet, apiPrefix+"/evaluations/"+url.PathEscape(id), nil, &e, opts)
	return e, err
}
