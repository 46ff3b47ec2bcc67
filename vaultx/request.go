package vaultx

import (
	"bytes"
	"context"
	"io"
	"net/url"
	"strconv"
	"time"

	json "github.com/segmentio/encoding/json"

	"github.com/acme/secretsbroker/broker"
)

// request is one Vault API call, built afresh for every attempt.
type request struct {
	method  string
	path    string // below /v1/
	params  url.Values
	body    any
	wrapTTL time.Duration
	// bodyOnError keeps a 4xx answer's body (transit batch results).
	bodyOnError bool
	// once marks a call that must not run twice (a check-and-set write, a
	// wrapped read): it is retried only when it was certainly not processed.
	once bool
	// into, when set (intoData), decodes the answer with its data straight
	// into a typed target in the same pass as the envelope (the returned
	// envelope's Data is then empty): one JSON decode per answer instead of
	// two on hot reads, and a concrete type rather than an interface for the
	// decoder.
	into func(b []byte) (*envelope, error)
}

// envelope is Vault's response structure.
type envelope struct {
	Data     json.RawMessage `json:"data"`
	Auth     *authInfo       `json:"auth"`
	WrapInfo *wrapInfo       `json:"wrap_info"`
}

type authInfo struct {
	ClientToken   string   `json:"client_token"`
	Accessor      string   `json:"accessor"`
	Policies      []string `json:"policies"`
	LeaseDuration int      `json:"lease_duration"`
	Renewable     bool     `json:"renewable"`
}

type wrapInfo struct {
	Token        string    `json:"token"`
	Accessor     string    `json:"accessor"`
	TTL          int       `json:"ttl"`
	CreationTime time.Time `json:"creation_time"`
	CreationPath string    `json:"creation_path"`
}

// envelopeOf is envelope with the data decoded straight into a *T.
type envelopeOf[T any] struct {
	Data     *T        `json:"data"`
	Auth     *authInfo `json:"auth"`
	WrapInfo *wrapInfo `json:"wrap_info"`
}

// intoData is request.into for a target p: absent or null data leaves *p
// untouched.
func intoData[T any](p *T) func(b []byte) (*envelope, error) {
	return func(b []byte) (*envelope, error) {
		e := envelopeOf[T]{Data: p}
		if err := json.Unmarshal(b, &e); err != nil {
			return nil, err
		}
		return &envelope{Auth: e.Auth, WrapInfo: e.WrapInfo}, nil
	}
}

// decode unmarshals the data part into out (a pointer); absent data is left zero.
func (e *envelope) decode(out any) error {
	if e == nil || len(e.Data) == 0 || string(e.Data) == "null" {
		return nil
	}
	return json.Unmarshal(e.Data, out)
}

// auditHeaders maps broker.Audit fields to the audited request headers.
func auditHeaders(a broker.Audit) [][2]string {
	return [][2]string{
		{"X-Broker-User", a.UserID},
		{"X-Request-Id", a.RequestID},
		{"X-Broker-Runtime", a.RuntimeID},
		{"X-Broker-Sandbox", a.SandboxID},
	}
}

// AuditHeaderNames are the request headers Setup configures as audited.
func AuditHeaderNames() []string {
	var names []string
	for _, h := range auditHeaders(broker.Audit{}) {
		names = append(names, h[0])
	}
	return names
}

func validHeaderValue(v string) bool {
	if v == "" || len(v) > 256 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] == 0x7f {
			return false
		}
	}
	return true
}

// do sends r with the broker's token, retrying as retry.go says within the
// caller's deadline. A 403 with AppRole auth may mean the token was revoked:
// then the client logs in again (once, shared by concurrent callers) and
// retries the call once.
func (c *Client) do(ctx context.Context, r request) (*envelope, error) {
	return c.withRetries(ctx, !r.once, func() (*envelope, error) { return c.doOnce(ctx, r) })
}

func (c *Client) doOnce(ctx context.Context, r request) (*envelope, error) {
	tok := c.api.Token()
	env, err := c.send(ctx, r, tok)
	if err != nil && c.approle && isPermissionDenied(err) && c.reauth(ctx, tok) {
		env, err = c.send(ctx, r, c.api.Token())
	}
	return env, err
}

func readBody(body io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(body, 32<<20))
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	return b, nil
}

func readEnvelope(body io.Reader) (*envelope, error) {
	b, err := readBody(body)
	env := &envelope{}
	if err != nil || b == nil {
		return env, err
	}
	if err := json.Unmarshal(b, env); err != nil {
		return nil, err
	}
	return env, nil
}

// readEnvelopeInto reads the answer and decodes it with into (intoData).
func readEnvelopeInto(body io.Reader, into func([]byte) (*envelope, error)) (*envelope, error) {
	b, err := readBody(body)
	if err != nil || b == nil {
		return &envelope{}, err
	}
	return into(b)
}

func durationString(d time.Duration) string {
	s := int64(d / time.Second)
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10) + "s"
}
