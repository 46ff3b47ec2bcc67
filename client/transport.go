package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// HeaderIdempotencyKey makes a POST safe to retry: the broker replays the
// first answer to a retry with the same key (for 24 hours) and never runs it
// twice. A replayed provisioning answer carries no bootstrap token.
const HeaderIdempotencyKey = "Idempotency-Key"

// CallOption adjusts one call.
type CallOption func(*call)

type call struct {
	idemKey string
	body    *[]byte
	header  http.Header
}

// IdempotencyKey sends key as the Idempotency-Key of a POST, which also
// makes the POST safe to retry (see Retry).
func IdempotencyKey(key string) CallOption { return func(c *call) { c.idemKey = key } }

// RawBody stores the answer's body, as received, in *dst (for callers that
// show the broker's JSON verbatim).
func RawBody(dst *[]byte) CallOption { return func(c *call) { c.body = dst } }

// Header adds a request header to the call (after the client's own).
func Header(key, value string) CallOption {
	return func(c *call) {
		if c.header == nil {
			c.header = http.Header{}
		}
		c.header.Set(key, value)
	}
}

// Response is one answer of the broker, whatever its status.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Err returns nil for a 2xx answer and the *APIError it stands for otherwise.
func (r *Response) Err() error {
	if r.Status >= 200 && r.Status <= 299 {
		return nil
	}
	return errorOf(r.Status, r.Header, r.Body)
}

// Do sends exactly one request (never retried) to path, which starts at the
// server's root (e.g. "/api/v1/user/secrets", "/healthz"), with the client's
// key, a JSON Content-Type when body is not nil, then header. It returns the
// answer whatever its status: it is for callers that check the wire (tests,
// probes). Only a failure to get an answer is an error, a *TransportError
// (code unavailable).
func (c *Client) Do(ctx context.Context, method, path string, body []byte, header http.Header) (*Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("client: build request %s %s: %w", method, path, err)
	}
	if c.key != "" {
		if c.bearer {
			req.Header.Set("Authorization", "Bearer "+c.key)
		} else {
			req.Header.Set("X-API-Key", c.key)
		}
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	for k, vs := range header {
		req.Header[http.CanonicalHeaderKey(k)] = vs
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, transportError(method, c.base, err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(io.LimitReader(res.Body, maxResponseBytes+1))
	if err != nil {
		return nil, transportError(method, c.base, fmt.Errorf("read answer: %w", err))
	}
	if len(out) > maxResponseBytes {
		return nil, fmt.Errorf("client: answer of %s %s is larger than 16 MiB", method, path)
	}
	return &Response{Status: res.StatusCode, Header: res.Header, Body: out}, nil
}

// send is one API call: in (JSON, when not nil) to path, retried
// when safe (see Retry), the 2xx answer decoded into out (when not nil).
// A non-2xx answer is an *APIError; no answer is a *TransportError.
func (c *Client) send(ctx context.Context, method, path string, in, out any, opts []CallOption) error {
	var cl call
	for _, o := range opts {
		o(&cl)
	}
	var body []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("client: encode request: %w", err)
		}
		body = b
	}
	hdr := cl.header
	if cl.idemKey != "" {
		hdr = hdr.Clone()
		if hdr == nil {
			hdr = http.Header{}
		}
		hdr.Set(HeaderIdempotencyKey, cl.idemKey)
	}
	safe := method == http.MethodGet || method == http.MethodHead || (method == http.MethodPost && cl.idemKey != "")
	res, err := c.attempts(ctx, method, path, body, hdr, safe)
	if err != nil {
		return err
	}
	if err := res.Err(); err != nil {
		return err
	}
	if cl.body != nil {
		*cl.body = res.Body
	}
	if out != nil {
		if err := json.Unmarshal(res.Body, out); err != nil {
			return fmt.Errorf("client: the broker's answer to %s %s is not the expected JSON: %w", method, path, err)
		}
	}
	return nil
}

// attempts runs Do, again after a transport failure or a 503 while safe and
// the policy and the context's deadline allow.
func (c *Client) attempts(ctx context.Context, method, path string, body []byte, hdr http.Header, safe bool) (*Response, error) {
	for n := 1; ; n++ {
		res, err := c.Do(ctx, method, path, body, hdr)
		retryable := err != nil || res.Status == http.StatusServiceUnavailable
		if !retryable || !safe || n >= c.retry.Attempts || ctx.Err() != nil {
			return res, err
		}
		wait := c.retry.wait(n, res)
		if wait < 0 {
			return res, err
		}
		if dl, ok := ctx.Deadline(); ok && time.Now().Add(wait).After(dl) {
			return res, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return res, err
		case <-t.C:
		}
	}
}

// wait is the pause before attempt n+1: Backoff*2^(n-1) capped at
// MaxBackoff, or the answer's Retry-After when longer; -1 when Retry-After
// asks for more than MaxBackoff (give up and let the caller decide).
func (r Retry) wait(n int, res *Response) time.Duration {
	d := r.Backoff << (n - 1)
	if r.MaxBackoff > 0 && (d > r.MaxBackoff || d <= 0) {
		d = r.MaxBackoff
	}
	if res != nil {
		if ra := errorOf(res.Status, res.Header, nil).RetryAfter; ra > d {
			if r.MaxBackoff > 0 && ra > r.MaxBackoff {
				return -1
			}
			d = ra
		}
	}
	return d
}
