package client

// Retry and transport behaviour against an httptest server standing in for
// the broker's HTTP API (these test the client, not Vault or Redis).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acme/secretsbroker/broker"
)

const unavailableBody = `{"code":503,"type":"unavailable","detail":"vault is sealed"}`

// flaky answers 503 to the first fails requests, then 200 with body.
func flaky(t *testing.T, fails int32, body string) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= fails {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, unavailableBody)
			return
		}
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func fastRetry() Option {
	return WithRetry(Retry{Attempts: 3, Backoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
}

func TestRetrySafeRequestsOn503(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name      string
		call      func(c *Client) error
		wantCalls int32
		wantErr   bool
	}{
		{"GET is retried", func(c *Client) error { _, err := c.GetSecret(ctx, "x"); return err }, 3, false},
		{"keyed POST is retried", func(c *Client) error {
			_, err := c.CreateSecret(ctx, CreateSecretRequest{Name: "A", Value: "v"}, IdempotencyKey("k1"))
			return err
		}, 3, false},
		{"POST without key is sent once", func(c *Client) error {
			_, err := c.CreateSecret(ctx, CreateSecretRequest{Name: "A", Value: "v"})
			return err
		}, 1, true},
		{"PUT is sent once", func(c *Client) error { _, err := c.UpdateSecret(ctx, "x", "v"); return err }, 1, true},
		{"DELETE is sent once", func(c *Client) error { return c.DeleteSecret(ctx, "x") }, 1, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, n := flaky(t, 2, `{"id":"x"}`)
			c, err := New(srv.URL, "key", fastRetry())
			if err != nil {
				t.Fatal(err)
			}
			err = tc.call(c)
			if got := n.Load(); got != tc.wantCalls {
				t.Errorf("%d requests, want %d", got, tc.wantCalls)
			}
			if tc.wantErr != (err != nil) {
				t.Fatalf("err = %v, want error: %v", err, tc.wantErr)
			}
			if err != nil && !broker.IsCode(err, broker.CodeUnavailable) {
				t.Errorf("code %q, want unavailable: %v", broker.ErrorCode(err), err)
			}
		})
	}
}

func TestRetryIsBounded(t *testing.T) {
	srv, n := flaky(t, 100, `{}`)
	c, _ := New(srv.URL, "key", fastRetry())
	_, err := c.ListSecrets(context.Background())
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 503 || ae.Detail != "vault is sealed" {
		t.Fatalf("err = %#v, want the last 503", err)
	}
	if got := n.Load(); got != 3 {
		t.Fatalf("%d requests, want 3 (Attempts)", got)
	}
}

func TestRetryStopsAtDeadline(t *testing.T) {
	srv, n := flaky(t, 100, `{}`)
	c, _ := New(srv.URL, "key", WithRetry(Retry{Attempts: 10, Backoff: time.Second, MaxBackoff: time.Second}))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.ListSecrets(ctx)
	if !broker.IsCode(err, broker.CodeUnavailable) {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 250*time.Millisecond {
		t.Errorf("took %s: a retry whose wait ends after the deadline must not be waited for", d)
	}
	if got := n.Load(); got != 1 {
		t.Errorf("%d requests, want 1", got)
	}
}

func TestRetryHonoursRetryAfter(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, unavailableBody)
	}))
	defer srv.Close()
	c, _ := New(srv.URL, "key", fastRetry())
	_, err := c.ListSecrets(context.Background())
	var ae *APIError
	if !errors.As(err, &ae) || ae.RetryAfter != 30*time.Second {
		t.Fatalf("err = %#v", err)
	}
	if got := n.Load(); got != 1 {
		t.Errorf("%d requests: a Retry-After beyond MaxBackoff is the caller's to honour", got)
	}
}

func TestRetryOnConnectionError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	var dials atomic.Int32
	hc := &http.Client{Timeout: time.Second, Transport: countingTransport{&dials}}
	c, _ := New(url, "sbk_secret_key", fastRetry(), WithHTTPClient(hc))
	_, err := c.ListSecrets(context.Background())
	var te *TransportError
	if !errors.As(err, &te) || !broker.IsCode(err, broker.CodeUnavailable) {
		t.Fatalf("err = %#v, want a *TransportError with code unavailable", err)
	}
	if !strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "sbk_secret_key") {
		t.Errorf("error %q", err)
	}
	if got := dials.Load(); got != 3 {
		t.Errorf("%d attempts, want 3", got)
	}
	dials.Store(0)
	if err := c.DeleteSecret(context.Background(), "x"); err == nil || dials.Load() != 1 {
		t.Errorf("DELETE: err %v after %d attempts, want one failed attempt", err, dials.Load())
	}
}

type countingTransport struct{ n *atomic.Int32 }

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

func TestTimeoutIsATransportError(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer srv.Close()
	defer close(block)
	c, _ := New(srv.URL, "key", WithTimeout(50*time.Millisecond), WithRetry(Retry{}))
	_, err := c.ListSecrets(context.Background())
	var te *TransportError
	if !errors.As(err, &te) || !te.Timeout() {
		t.Fatalf("err = %#v, want a timed-out *TransportError", err)
	}
	if want := "GET " + srv.URL + ": timed out"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

func TestRequestHeaders(t *testing.T) {
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		_, _ = io.WriteString(w, `{}`)
	}))
	defer srv.Close()
	ctx := context.Background()
	c, _ := New(srv.URL+"/", "k1", WithUserAgent("sdk-test"))
	if _, err := c.CreateSecret(ctx, CreateSecretRequest{Name: "A", Value: "v"}, IdempotencyKey("idem-1")); err != nil {
		t.Fatal(err)
	}
	if got.Get("X-API-Key") != "k1" || got.Get("Authorization") != "" || got.Get("Idempotency-Key") != "idem-1" ||
		got.Get("Content-Type") != "application/json" || got.Get("User-Agent") != "sdk-test" {
		t.Errorf("headers %v", got)
	}
	if _, err := c.WithKey("k2").ListSecrets(ctx); err != nil {
		t.Fatal(err)
	}
	if got.Get("X-API-Key") != "k2" || got.Get("Idempotency-Key") != "" || got.Get("Content-Type") != "" {
		t.Errorf("headers %v", got)
	}
	b, _ := New(srv.URL, "k3", WithBearer())
	if _, err := b.ListSecrets(ctx); err != nil {
		t.Fatal(err)
	}
	if got.Get("Authorization") != "Bearer k3" || got.Get("X-API-Key") != "" {
		t.Errorf("bearer headers %v", got)
	}
}

func TestNoRedirect(t *testing.T) {
	var leaked atomic.Bool
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Store(r.Header.Get("X-API-Key") != "")
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/steal", http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	c, _ := New(srv.URL, "key")
	_, err := c.ListSecrets(context.Background())
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusTemporaryRedirect || leaked.Load() {
		t.Fatalf("err %v, leaked %v", err, leaked.Load())
	}
}

func TestNew(t *testing.T) {
	for _, u := range []string{"", "ftp://x", "http://", "http://u:p@host", "http://h?q=1", "http://h#f", "::"} {
		if _, err := New(u, "k"); !errors.Is(err, ErrBadURL) {
			t.Errorf("New(%q): %v, want ErrBadURL", u, err)
		}
	}
	for _, k := range []string{"a b", "a\nb", "a\x00"} {
		_, err := New("http://h", k)
		if !errors.Is(err, ErrBadKey) || strings.Contains(err.Error(), k) {
			t.Errorf("New(key %q): %v, want ErrBadKey", k, err)
		}
	}
	c, err := New("https://h:8443/prefix/", "")
	if err != nil || c.BaseURL() != "https://h:8443/prefix" || c.hc.Timeout != DefaultTimeout || c.hc == http.DefaultClient {
		t.Fatalf("New: %v %v", c, err)
	}
}

func TestClientNeverPrintsItsKey(t *testing.T) {
	c, _ := New("http://h", "sbk_very_secret")
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %s", c, c, c)} {
		if strings.Contains(s, "sbk_very_secret") {
			t.Fatalf("printed %q", s)
		}
	}
}

// TestDoIsOneRawExchange: Do returns any answer as is and never retries.
func TestDoIsOneRawExchange(t *testing.T) {
	srv, n := flaky(t, 100, `{}`)
	c, _ := New(srv.URL, "key", fastRetry())
	res, err := c.Do(context.Background(), http.MethodGet, "/api/v1/user/secrets", nil, http.Header{"X-Custom": {"1"}})
	if err != nil || res.Status != 503 || string(res.Body) != unavailableBody || n.Load() != 1 {
		t.Fatalf("Do: %+v, %v after %d requests; want the 503 as is, after one request", res, err, n.Load())
	}
	if !broker.IsCode(res.Err(), broker.CodeUnavailable) {
		t.Errorf("Err() = %v", res.Err())
	}
}
