package client

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultTimeout bounds one HTTP exchange of the default *http.Client.
const DefaultTimeout = 30 * time.Second

// maxResponseBytes bounds a response body read from the broker.
const maxResponseBytes = 16 << 20

// apiPrefix is where every API route lives (DESIGN section 3).
const apiPrefix = "/api/v1"

// Client calls one broker with one API key. It is safe for concurrent use;
// WithKey derives a client for another key that shares the connections.
type Client struct {
	base      string // scheme://host[:port][/prefix], no trailing slash
	key       string
	bearer    bool // send the key as Authorization: Bearer (the default is X-API-Key)
	userAgent string
	hc        *http.Client
	timeout   time.Duration // of the default *http.Client
	retry     Retry
}

// The errors of New, for errors.Is.
var (
	ErrBadURL = errors.New("client: broker URL is malformed: want http(s)://host[:port] without credentials, query or fragment")
	ErrBadKey = errors.New("client: the API key contains whitespace or control characters")
)

// Retry bounds the retries of safe requests: GETs, and POSTs that carry an
// Idempotency-Key, after a transport failure or a 503. Attempts counts the
// first one; Attempts <= 1 disables retries. The wait before retry n is
// Backoff*2^(n-1), at most MaxBackoff (and at least a 503's Retry-After,
// when that is not longer than MaxBackoff); no retry starts when its wait
// would end after the context's deadline.
type Retry struct {
	Attempts   int
	Backoff    time.Duration
	MaxBackoff time.Duration
}

// DefaultRetry returns the retry policy of New: three attempts, 100 ms then
// 200 ms apart.
func DefaultRetry() Retry {
	return Retry{Attempts: 3, Backoff: 100 * time.Millisecond, MaxBackoff: 2 * time.Second}
}

// Option configures New.
type Option func(*Client)

// WithHTTPClient makes the client send through hc (its Timeout bounds each
// attempt; give it one). It should not follow redirects, so that the API key
// only ever goes to the configured broker. nil means the default client.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithTimeout sets the per-attempt timeout of the client's own *http.Client
// (DefaultTimeout when unset). Ignored with WithHTTPClient.
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// WithRetry replaces DefaultRetry. Retry{} disables retries.
func WithRetry(r Retry) Option { return func(c *Client) { c.retry = r } }

// WithBearer sends the API key as "Authorization: Bearer <key>" instead of
// X-API-Key (the broker accepts both).
func WithBearer() Option { return func(c *Client) { c.bearer = true } }

// WithUserAgent sets the User-Agent header (the default is Go's).
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// New returns a client of the broker at baseURL (http(s)://host[:port], an
// optional path prefix) authenticating with apiKey. An empty key sends no
// credentials (enough for Healthz and Readyz). The default *http.Client has
// DefaultTimeout and never follows redirects. The error is ErrBadURL or
// ErrBadKey; it never contains the key.
func New(baseURL, apiKey string, opts ...Option) (*Client, error) {
	base := strings.TrimRight(strings.TrimSpace(baseURL), "/")
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, ErrBadURL
	}
	if strings.ContainsAny(apiKey, "\r\n\x00 ") {
		return nil, ErrBadKey
	}
	c := &Client{base: base, key: apiKey, retry: DefaultRetry()}
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil {
		c.hc = defaultHTTPClient(c.timeout)
	}
	return c, nil
}

func defaultHTTPClient(timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &http.Client{
		Timeout: timeout,
		// Never follow a redirect: the API key must go to the configured host only.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// WithKey returns a copy of c that authenticates with key and shares c's
// connections and settings.
func (c *Client) WithKey(key string) *Client {
	d := *c
	d.key = key
	return &d
}

// BaseURL returns the broker URL the client sends to.
func (c *Client) BaseURL() string { return c.base }

// CloseIdleConnections closes the idle keep-alive connections of the client's *http.Client.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// String names the broker only, so that printing a Client (%v) never shows its key.
func (c *Client) String() string { return fmt.Sprintf("client.Client(%s)", c.base) }
