package handlers

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// TestRequestIDFormat: a client's X-Request-Id is kept only when it is 1-64
// characters of [A-Za-z0-9._-]; anything else (too long, a colon, spaces,
// quotes, control bytes) is replaced by a fresh id and never reaches the
// log (nor Vault's audit log: the audit context takes the same id).
func TestRequestIDFormat(t *testing.T) {
	var logs bytes.Buffer
	s := New(Config{}, Deps{Log: zerolog.New(&logs)})
	send := func(id string) string {
		t.Helper()
		req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
		req.Header.Set(HeaderRequestID, id)
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		return rec.Header().Get(HeaderRequestID)
	}
	for _, ok := range []string{"a", "req-1", "0123456789abcdef0123456789abcdef", strings.Repeat("A", 64), "x.y_z-1"} {
		if got := send(ok); got != ok {
			t.Errorf("safe id %q answered as %q", ok, got)
		}
	}
	hostile := []string{
		strings.Repeat("a", 65),
		"user:admin:granted",
		"evil id with spaces",
		`quote"injection`,
		"tab\tid",
		"percent%0aNEWLINE",
		"slash/../etc",
		"ünïcode-id",
	}
	for _, id := range hostile {
		got := send(id)
		if got == id || !requestIDRE.MatchString(got) || len(got) == 0 {
			t.Errorf("hostile id %q answered as %q", id, got)
		}
		if strings.Contains(logs.String(), id) {
			t.Errorf("hostile id %q reached the log", id)
		}
	}
}
