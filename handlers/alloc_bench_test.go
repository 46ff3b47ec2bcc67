package handlers

import (
	"io"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/acme/secretsbroker/broker"
)

// BenchmarkGetSecret is one authenticated GET of a secret through the whole
// middleware chain over the fakes: the HTTP layer's own cost per request.
func BenchmarkGetSecret(b *testing.B) {
	prov := "openai"
	svc := &fakeService{secret: broker.Secret{ID: testID, Name: "OPENAI_API_KEY", Provider: &prov, MaskedValue: "sk-...cdef",
		Fingerprint: "0123456789abcdef", Version: 3, CreatedAt: time.Unix(1700000000, 0).UTC(), UpdatedAt: time.Unix(1700000500, 0).UTC()}}
	auth, lim := &fakeAuth{}, allowAll()
	srv := New(Config{}, Deps{Secrets: svc, Runtimes: svc, Evaluations: svc, Auth: auth,
		Limiter: lim, AuthFailLimiter: allowAll(), Log: zerolog.New(io.Discard).Level(zerolog.InfoLevel)})
	h := srv.Handler()
	req := httptest.NewRequest("GET", "/api/v1/user/secrets/"+testID, nil)
	req.Header.Set("X-API-Key", testKey)
	b.ReportAllocs()
	for b.Loop() {
		svc.calls, auth.lookups, lim.keys = svc.calls[:0], auth.lookups[:0], lim.keys[:0]
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}
