package vaultx

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	json "github.com/segmentio/encoding/json"

	"github.com/hashicorp/vault/api"

	"github.com/acme/secretsbroker/broker"
)

// The broker's own calls go over the direct transport (direct.go) instead
// of through api.Client.RawRequestWithContext: that path builds a
// retryablehttp request, copies every header and body and takes two locks
// per call, and net/http's Transport hands every call between goroutines;
// profiles showed both as a large share of brokerd's CPU per Vault call
// (create and rotate make five). What vault/api does there that the broker
// relies on is redone here: the token, wrap TTL
// and X-Vault-Request headers, one followed redirect (a standby pointing at
// the active node) without a protocol downgrade, and errors as
// *api.ResponseError, so that statusOf, isCASMismatch and ClassifyCall read
// them as before. Namespaces, MFA and client-side rate limiting are not used
// by the broker.

// rawHTTP is how send reaches Vault: cfg's address, and a directTransport
// (direct.go) with the TLS settings of the api client's transport, counted
// and observed like the api client's calls.
type rawHTTP struct {
	base    *url.URL // scheme, host and any path prefix of the Vault address
	direct  *directTransport
	rt      http.RoundTripper
	timeout time.Duration // per attempt
}

// newRawHTTP builds it for cfg (defaults applied, address validated) from
// tr, the api client's transport. Errors: invalid.
func newRawHTTP(cfg Config, tr *http.Transport, opts APIOptions) (rawHTTP, error) {
	u, err := url.Parse(cfg.Addr)
	if err != nil {
		return rawHTTP{}, broker.Errorf(broker.CodeInvalid, "vault address is malformed")
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	d := newDirectTransport(tr.TLSClientConfig)
	rt := &countingTransport{next: d, n: opts.RoundTrips, observe: opts.Observe, kv: cfg.KVMount, transit: cfg.TransitMount}
	return rawHTTP{base: u, direct: d, rt: rt, timeout: cfg.Timeout}, nil
}

// errBadToken is validateToken's refusal in vault/api, kept: a token with
// control characters is never put in a header.
var errBadToken = errors.New("vault token contains non-printable characters")

// send performs one call with the given token ("" for none). Errors are
// *api.ResponseError for an answer of 400 or more, transport errors
// otherwise, not yet mapped.
func (c *Client) send(ctx context.Context, r request, token string) (*envelope, error) {
	if strings.IndexFunc(token, func(c rune) bool { return !unicode.IsPrint(c) }) >= 0 {
		return nil, errBadToken
	}
	var body []byte
	if r.body != nil {
		var err error
		if body, err = json.Marshal(r.body); err != nil {
			return nil, broker.WithCode(broker.CodeInternal, err, "encode vault request")
		}
	}
	u := *c.raw.base
	u.Path += "/v1/" + strings.TrimPrefix(r.path, "/")
	if len(r.params) > 0 {
		u.RawQuery = r.params.Encode()
	}
	h := make(http.Header, 8)
	h["X-Vault-Request"] = []string{"true"}
	if token != "" {
		h["X-Vault-Token"] = []string{token}
	}
	if r.wrapTTL > 0 {
		h["X-Vault-Wrap-Ttl"] = []string{durationString(r.wrapTTL)}
	}
	for _, ah := range auditHeaders(broker.AuditFrom(ctx)) {
		if validHeaderValue(ah[1]) {
			h[ah[0]] = []string{ah[1]}
		}
	}
	if body != nil {
		h["Content-Type"] = []string{"application/json"}
	}
	ctx, cancel := context.WithTimeout(ctx, c.raw.timeout)
	defer cancel()
	resp, err := c.roundTrip(ctx, r.method, &u, h, body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return c.answerError(r, &u, resp)
	}
	var env *envelope
	if r.into != nil {
		env, err = readEnvelopeInto(resp.Body, r.into)
	} else {
		env, err = readEnvelope(resp.Body)
	}
	if err != nil {
		return nil, broker.WithCode(broker.CodeInternal, err, "decode vault response")
	}
	return env, nil
}

// roundTrip sends one request and follows at most one redirect, as vault/api
// does (301, 302, 307; https never downgraded to http).
func (c *Client) roundTrip(ctx context.Context, method string, u *url.URL, h http.Header, body []byte) (*http.Response, error) {
	for redirects := 0; ; redirects++ {
		req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
		if err != nil {
			return nil, broker.WithCode(broker.CodeInternal, err, "build vault request")
		}
		if body == nil {
			req.Body, req.GetBody, req.ContentLength = http.NoBody, nil, 0
		}
		req.Header = h
		resp, err := c.raw.rt.RoundTrip(req)
		if err != nil {
			return nil, &url.Error{Op: method, URL: u.Redacted(), Err: err}
		}
		switch resp.StatusCode {
		case http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect:
		default:
			return resp, nil
		}
		if redirects > 0 {
			return resp, nil
		}
		loc, lerr := resp.Location()
		drain(resp)
		if lerr != nil {
			return nil, broker.WithCode(broker.CodeUnavailable, lerr, "vault redirect without a usable location")
		}
		if u.Scheme == "https" && loc.Scheme != "https" {
			return nil, broker.Errorf(broker.CodeUnavailable, "vault redirect would downgrade https to http")
		}
		u = loc
	}
}

// answerError turns an answer of 400 or more into *api.ResponseError, as
// vault/api's Response.Error does. With bodyOnError a 4xx answer's data
// (transit batch results) is returned with it.
func (c *Client) answerError(r request, u *url.URL, resp *http.Response) (*envelope, error) {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	re := &api.ResponseError{HTTPMethod: r.method, URL: u.String(), StatusCode: resp.StatusCode}
	var er struct {
		Errors []string `json:"errors"`
	}
	if err := json.Unmarshal(b, &er); err != nil {
		re.RawError, re.Errors = true, []string{string(b)}
	} else {
		re.Errors = er.Errors
	}
	if r.bodyOnError && resp.StatusCode < 500 {
		if env, derr := readEnvelope(bytes.NewReader(b)); derr == nil && len(env.Data) > 0 {
			return env, re
		}
	}
	return nil, re
}

// drain reads what is left of a body (bounded) so the connection is reused.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
}
