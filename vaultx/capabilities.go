package vaultx

import (
	"context"
	"net/http"
	"slices"

	"github.com/acme/secretsbroker/broker"
)

// Capabilities returns the capabilities of the client's token on each path
// (sys/capabilities-self; "root" means every capability). It changes
// nothing, so callers use it to check a token before they change anything.
// Errors: forbidden (the token may not ask), unavailable, internal.
func (c *Client) Capabilities(ctx context.Context, paths ...string) (map[string][]string, error) {
	env, err := c.do(ctx, request{method: http.MethodPost, path: "sys/capabilities-self", body: map[string]any{"paths": paths}})
	if err != nil {
		return nil, mapErr(err, "check token capabilities", nil)
	}
	var d map[string]any
	if err := env.decode(&d); err != nil {
		return nil, broker.WithCode(broker.CodeInternal, err, "check token capabilities: malformed vault answer")
	}
	out := make(map[string][]string, len(paths))
	for _, p := range paths {
		raw, _ := d[p].([]any)
		for _, x := range raw {
			if s, ok := x.(string); ok {
				out[p] = append(out[p], s)
			}
		}
	}
	return out, nil
}

// Missing returns the capabilities of want that are not in have ("root"
// grants all, "deny" none).
func Missing(have, want []string) []string {
	if slices.Contains(have, "root") {
		return nil
	}
	if slices.Contains(have, "deny") {
		return slices.Clone(want)
	}
	var out []string
	for _, w := range want {
		if !slices.Contains(have, w) {
			out = append(out, w)
		}
	}
	return out
}

// TransitMount is the configured transit mount.
func (c *Client) TransitMount() string { return c.cfg.TransitMount }

// TransitKey is the configured transit key's name.
func (c *Client) TransitKey() string { return c.cfg.TransitKey }
