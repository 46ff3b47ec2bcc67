package handlers

import (
	"net/http"
	"slices"
	"testing"

	"github.com/labstack/echo/v4"
)

// TestHardeningHeadersAreShared: the shared header values keep their keys
// canonical (as Header.Set would write them) and cannot be changed through
// an answer: a handler that adds to or replaces them changes its own answer
// only, and the next answer carries exactly the hardening values again.
func TestHardeningHeadersAreShared(t *testing.T) {
	if headerRateLimitRemaining != http.CanonicalHeaderKey("X-RateLimit-Remaining") {
		t.Fatalf("%q is not the canonical key", headerRateLimitRemaining)
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
