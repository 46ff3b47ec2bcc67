package handlers

import (
	"bytes"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"regexp"
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

// requestIDRE is the specification of validRequestID.
var requestIDRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// TestValidRequestIDIsTheRegexp: the byte check accepts exactly what
// ^[A-Za-z0-9._-]{1,64}$ accepts: every single byte, every length around the
// bounds, each byte at the start, middle and end of an otherwise valid id,
// multi-byte UTF-8, and random strings over a mostly-valid alphabet.
func TestValidRequestIDIsTheRegexp(t *testing.T) {
	var corpus []string
	for b := 0; b < 256; b++ {
		one := string([]byte{byte(b)})
		corpus = append(corpus, one, "ab"+one, one+"ab", "a"+one+"b", strings.Repeat("a", 63)+one, strings.Repeat("a", 64)+one)
	}
	for n := 0; n <= 130; n++ {
		corpus = append(corpus, strings.Repeat("Z", n), strings.Repeat("-", n), strings.Repeat("9.", n/2))
	}
	corpus = append(corpus, "ünïcode", "é", "\u2028", "\xff\xfe", "id\n", "\nid", "id\r\n", "a\x00b")
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "abcXYZ019._-\n \t:/\"%\x00\x7f\x80é"
	for range 20000 {
		b := make([]byte, rng.IntN(70))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		corpus = append(corpus, string(b))
	}
	accepted := 0
	for _, id := range corpus {
		want := requestIDRE.MatchString(id)
		if got := validRequestID(id); got != want {
			t.Fatalf("validRequestID(%q) = %v, the regexp says %v", id, got, want)
		}
		if want {
			accepted++
		}
	}
	if accepted < 500 || accepted == len(corpus) {
		t.Fatalf("the corpus does not exercise both answers: %d of %d accepted", accepted, len(corpus))
	}
}
