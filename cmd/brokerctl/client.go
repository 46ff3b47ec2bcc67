package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxResponseBytes bounds a response body read from the broker.
const maxResponseBytes = 16 << 20

// apiClient calls the broker's HTTP API with one API key.
type apiClient struct {
	base string // scheme://host[/prefix], no trailing slash
	key  string
	http *http.Client
}

// newAPIClient checks the flags and returns a client. Errors are usage errors.
func newAPIClient(f brokerFlags) (*apiClient, error) {
	base := strings.TrimRight(strings.TrimSpace(f.URL), "/")
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, usagef("broker URL %q is malformed: want http(s)://host[:port] (--url or BROKER_URL)", redactURL(f.URL))
	}
	if f.APIKey == "" {
		return nil, usagef("no API key: set BROKER_API_KEY (or --api-key)")
	}
	if strings.ContainsAny(f.APIKey, "\r\n\x00 ") {
		return nil, usagef("the API key contains whitespace or control characters")
	}
	timeout := f.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	hc := &http.Client{
		Timeout: timeout,
		// Never follow a redirect: the API key must go to the configured host only.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &apiClient{base: base, key: f.APIKey, http: hc}, nil
}

// redactURL drops userinfo from a URL before it is shown; a value holding
// "@" that does not parse is not shown at all.
func redactURL(s string) string {
	u, err := url.Parse(s)
	switch {
	case err == nil && u.User != nil:
		u.User = nil
		return u.String()
	case err != nil && strings.Contains(s, "@"):
		return "(not shown: it may hold credentials)"
	}
	return s
}

// envelope is the broker's one error body.
type envelope struct {
	Code   int          `json:"code"`
	Type   string       `json:"type"`
	Detail string       `json:"detail"`
	Errors []fieldError `json:"errors"`
}

type fieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// apiError is a non-2xx answer of the broker.
type apiError struct {
	Status     int
	Env        envelope // zero when the body was not an envelope
	RetryAfter string
}

func (e *apiError) Error() string {
	var b strings.Builder
	detail := oneLine(e.Env.Detail)
	if detail == "" {
		detail = strings.ToLower(http.StatusText(e.Status))
		if detail == "" {
			detail = "unexpected answer"
		}
	}
	b.WriteString(detail)
	fields := e.Env.Errors
	if len(fields) == 1 && detail == fields[0].Field+": "+fields[0].Message {
		fields = nil // the detail already says it
	}
	for i, f := range fields {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		if f.Field != "" {
			b.WriteString(oneLine(f.Field) + ": ")
		}
		b.WriteString(oneLine(f.Message))
	}
	if e.RetryAfter != "" {
		b.WriteString(" (retry after " + e.RetryAfter + "s)")
	}
	typ := e.Env.Type
	if typ == "" {
		typ = "HTTP"
	}
	fmt.Fprintf(&b, " [%s %d]", typ, e.Status)
	return b.String()
}

// do sends one request to /api/v1+path with body (JSON, when not nil) and
// returns the response body of a 2xx answer. Any other answer is an *apiError.
func (c *apiClient) do(ctx context.Context, method, path string, body any, hdr http.Header) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+"/api/v1"+path, rd)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "brokerctl")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, c.base, unwrapURLError(err))
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read answer of %s %s: %w", method, path, err)
	}
	if len(out) > maxResponseBytes {
		return nil, fmt.Errorf("answer of %s %s is larger than 16 MiB", method, path)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		ae := &apiError{Status: resp.StatusCode, RetryAfter: strings.TrimSpace(resp.Header.Get("Retry-After"))}
		var env envelope
		if json.Unmarshal(out, &env) == nil && env.Type != "" {
			ae.Env = env
		}
		return nil, ae
	}
	return out, nil
}

// unwrapURLError drops the *url.Error wrapper, whose text repeats the URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return errors.New("timed out (see --timeout)")
		}
		return ue.Err
	}
	return err
}
