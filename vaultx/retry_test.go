package vaultx

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/rs/zerolog"

	"github.com/acme/secretsbroker/broker"
)

// TestClassifyAttempt: what the retry policy does with each kind of failure,
// for a call that is safe to repeat and for one that must not run twice.
func TestClassifyAttempt(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	status := func(code int) error { return &api.ResponseError{StatusCode: code} }
	cases := []struct {
		name             string
		err              error
		idempotent, once retryClass
	}{
		{"success", nil, attemptFinal, attemptFinal},
		{"connection refused (never sent)", dial, attemptRetry, attemptRetry},
		{"503 sealed, standby, no active node", status(503), attemptRetry, attemptRetry},
		{"429 rate limited", status(429), attemptRetry, attemptRetry},
		{"500 node losing leadership", status(500), attemptRetry, attemptUnknown},
		{"502 from the load balancer", status(502), attemptRetry, attemptUnknown},
		{"connection reset after sending", reset, attemptRetry, attemptUnknown},
		{"EOF mid-answer", io.ErrUnexpectedEOF, attemptRetry, attemptUnknown},
		{"400 check-and-set mismatch", status(400), attemptFinal, attemptFinal},
		{"404", status(404), attemptFinal, attemptFinal},
		{"403", status(403), attemptFinal, attemptFinal},
		{"broker error (decode)", broker.Errorf(broker.CodeInternal, "decode"), attemptFinal, attemptFinal},
	}
	for _, c := range cases {
		if got := classifyAttempt(c.err, true); got != c.idempotent {
			t.Errorf("%s, idempotent call: %d, want %d", c.name, got, c.idempotent)
		}
		if got := classifyAttempt(c.err, false); got != c.once {
			t.Errorf("%s, call that must not run twice: %d, want %d", c.name, got, c.once)
		}
	}
}

// TestBackoff: pauses grow from 25-50 ms to at most 1 s.
func TestBackoff(t *testing.T) {
	for n := range 12 {
		d := backoff(n)
		top := min(minBackoff<<min(n, 5), maxBackoff)
		if d < top/2 || d > top {
			t.Errorf("backoff(%d) = %s, want in [%s, %s]", n, d, top/2, top)
		}
	}
}

func retryClient(maxRetries int) *Client {
	return &Client{cfg: Config{Timeout: 2 * time.Second, MaxRetries: maxRetries}, log: zerolog.Nop()}
}

// TestWithRetries: a retryable failure is retried until it succeeds; a
// failure of unknown effect on a call that must not run twice, and a
// definitive answer, are not; retries stop before the caller's deadline, and
// the last error is returned (so the caller answers 503, not a hang).
func TestWithRetries(t *testing.T) {
	unavailable := &api.ResponseError{StatusCode: http.StatusServiceUnavailable}
	lost := &api.ResponseError{StatusCode: http.StatusInternalServerError}
	run := func(c *Client, ctx context.Context, idempotent bool, errs ...error) (int, error) {
		n := 0
		_, err := c.withRetries(ctx, idempotent, func() (*envelope, error) {
			n++
			if n <= len(errs) {
				return nil, errs[n-1]
			}
			return &envelope{}, nil
		})
		return n, err
	}
	ctx := context.Background()
	if n, err := run(retryClient(0), ctx, false, unavailable, unavailable, unavailable); err != nil || n != 4 {
		t.Errorf("503 three times: %d attempts, %v; want 4 and success", n, err)
	}
	if n, err := run(retryClient(0), ctx, true, lost, lost); err != nil || n != 3 {
		t.Errorf("idempotent call, 500 twice: %d attempts, %v; want 3 and success", n, err)
	}
	if n, err := run(retryClient(0), ctx, false, lost); !errors.Is(err, lost) || n != 1 {
		t.Errorf("call that must not run twice, 500: %d attempts, %v; want 1 and the error", n, err)
	}
	if n, err := run(retryClient(0), ctx, true, &api.ResponseError{StatusCode: 400}); err == nil || n != 1 {
		t.Errorf("400: %d attempts; want 1", n)
	}
	if n, err := run(retryClient(-1), ctx, true, unavailable); !errors.Is(err, unavailable) || n != 1 {
		t.Errorf("MaxRetries < 0: %d attempts, %v; want 1", n, err)
	}

	// Always failing: gives up before the caller's deadline with the last error.
	dctx, cancel := context.WithTimeout(ctx, 700*time.Millisecond)
	defer cancel()
	start := time.Now()
	always := make([]error, 1000)
	for i := range always {
		always[i] = unavailable
	}
	n, err := run(retryClient(0), dctx, true, always...)
	took := time.Since(start)
	if !errors.Is(err, unavailable) || n < 4 || took > 700*time.Millisecond {
		t.Errorf("always 503 with a 700 ms deadline: %d attempts in %s, %v; want several, within the deadline, the 503", n, took, err)
	}
	// No caller deadline: bounded by Config.Timeout.
	start = time.Now()
	if _, err := run(retryClient(0), ctx, true, always...); !errors.Is(err, unavailable) || time.Since(start) > 2*time.Second {
		t.Errorf("always 503 without a deadline: %v after %s; want the 503 within Config.Timeout (2s)", err, time.Since(start))
	}
}

// TestSameJSON: the read-back compares data regardless of key order and
// number formatting, and tells different data apart.
func TestSameJSON(t *testing.T) {
	same, err := sameJSON([]byte(`{"b":"2","a":1}`), map[string]any{"a": 1, "b": "2"})
	if err != nil || !same {
		t.Errorf("same data: %v %v", same, err)
	}
	same, err = sameJSON([]byte(`{"a":1,"b":"3"}`), map[string]any{"a": 1, "b": "2"})
	if err != nil || same {
		t.Errorf("different data: %v %v", same, err)
	}
}
