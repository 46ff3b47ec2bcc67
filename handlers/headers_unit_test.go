package handlers

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"
)

// TestHardeningHeadersAreShared: the shared header values keep their keys
// canonical (as Header.Set would write them) and cannot be changed through
// an answer: a handler that adds to or replaces them changes its own answer
// only, and the next answer carries exactly the hardening values again.
func TestHardeningHeadersAreShared(t *testing.T) {
	for k, v := range map[string]string{headerRateLimitRemaining: "X-RateLimit-Remaining", headerAPIKey: "X-API-Key"} {
		if k != http.CanonicalHeaderKey(v) {
			t.Fatalf("%q is not the canonical key of %q", k, v)
		}
	}
	for _, hv := range hardening {
		if hv.key != http.CanonicalHeaderKey(hv.key) || len(hv.value) != 1 || cap(hv.value) != 1 {
			t.Fatalf("%q: not canonical or not a one-value slice with no room to append: %q (cap %d)", hv.key, hv.value, cap(hv.value))
		}
	}
	h := newHarness(t, Config{})
	h.srv.e.GET("/test-mutate", func(c echo.Context) error {
		hdr := c.Response().Header()
		for _, hv := range hardening {
			hdr.Add(hv.key, "extra")
		}
		hdr.Set("Pragma", "replaced")
		return c.NoContent(http.StatusNoContent)
	})
	rec := h.do(t, "GET", "/test-mutate", "")
	if got := rec.Header().Values("Cache-Control"); !slices.Equal(got, []string{"no-store", "extra"}) {
		t.Fatalf("the handler's own additions: Cache-Control %q", got)
	}
	for range 2 {
		rec = h.do(t, "GET", "/healthz", "")
		for k, v := range securityHeaders {
			if got := rec.Header().Values(k); !slices.Equal(got, []string{v}) {
				t.Fatalf("after a handler changed them: %s = %q, want [%q]", k, got, v)
			}
		}
	}
}

// TestLogFieldsPerRequest: concurrent requests, authenticated or not, each
// log under their own request id; the lines of an authenticated request
// name its user (after authentication), those of a refused one name none,
// and no line carries another request's fields.
func TestLogFieldsPerRequest(t *testing.T) {
	h := newHarness(t, Config{})
	h.limiter.err = errors.New("limiter down") // one more line, after authentication
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := testKey
			if i%2 == 1 {
				key = "sbk_wrong-key-0123456789abcdef"
			}
			h.do(t, "GET", "/api/v1/user/secrets", "", "X-API-Key", key, HeaderRequestID, "par-"+strconv.Itoa(i))
		}()
	}
	wg.Wait()
	lines := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(h.logs.String()), "\n") {
		id := between(line, `"request_id":"`, `"`)
		n, err := strconv.Atoi(strings.TrimPrefix(id, "par-"))
		if err != nil {
			t.Fatalf("line without a request id: %s", line)
		}
		lines[id]++
		users := strings.Count(line, `"user":"alice"`)
		switch {
		case n%2 == 0 && strings.Contains(line, `"message":"request"`) && users != 2,
			n%2 == 0 && !strings.Contains(line, `"message":"request"`) && users != 1,
			n%2 == 1 && users != 0:
			t.Fatalf("request %d: line %s", n, line)
		}
		if strings.Count(line, `"request_id"`) != 1 {
			t.Fatalf("a line with more than one request id: %s", line)
		}
	}
	for i := range 32 {
		want := 1 // the access line
		if i%2 == 0 {
			want = 2 // and the degraded limiter's warning
		}
		if got := lines["par-"+strconv.Itoa(i)]; got != want {
			t.Fatalf("request %d: %d lines, want %d", i, got, want)
		}
	}
}

func between(s, from, to string) string {
	_, after, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(after, to)
	return v
}

// TestRequestSeriesAreLazy: no request series is exported before a route's
// first request; concurrent requests on several routes and statuses are all
// counted, each under its route template, and unregistered routes (any
// method) under "unmatched".
func TestRequestSeriesAreLazy(t *testing.T) {
	h := newHarness(t, Config{})
	if m := h.metrics(t); strings.Contains(m, "broker_http_request") && strings.Contains(m, `route="`) {
		t.Fatalf("series before any request: %s", grepLines(m, "broker_http_request"))
	}
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch i % 4 {
			case 0:
				h.do(t, "GET", "/healthz", "")
			case 1:
				h.do(t, "GET", "/api/v1/user/secrets", "", "X-API-Key", "")
			case 2:
				h.do(t, "GET", "/api/v1/user/secrets", "")
			case 3:
				h.do(t, "BREW", "/api/v1/nope", "")
			}
		}()
	}
	wg.Wait()
	m := h.metrics(t)
	for _, want := range []string{
		`broker_http_requests_total{method="GET",route="/healthz",status="200"} 10`,
		`broker_http_requests_total{method="GET",route="/api/v1/user/secrets",status="401"} 10`,
		`broker_http_requests_total{method="GET",route="/api/v1/user/secrets",status="200"} 10`,
		`broker_http_requests_total{method="BREW",route="unmatched",status="404"} 10`,
		`broker_http_request_duration_seconds_count{method="GET",route="/api/v1/user/secrets"} 20`,
		`broker_http_request_duration_seconds_count{method="BREW",route="unmatched"} 10`,
	} {
		if !strings.Contains(m, want+"\n") {
			t.Errorf("missing %s in:\n%s", want, grepLines(m, "broker_http_request"))
		}
	}
	if n := strings.Count(m, "broker_http_requests_total{"); n != 4 {
		t.Errorf("%d request counters, want 4:\n%s", n, grepLines(m, "broker_http_requests_total"))
	}
}
