package handlers

import (
	"flag"
	"io"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/acme/secretsbroker/broker"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/golden_answers.txt")

// goldenCase is one request of TestAnswersAreByteIdentical; prep adjusts the
// harness first, undo restores it.
type goldenCase struct {
	name, method, path, body string
	hdr                      []string
	prep                     func(h *harness)
}

// TestAnswersAreByteIdentical: the status, every header and the body of a
// set of answers (success, each kind of error, 404, 405, 429, a panic, a
// timeout, CORS, the admin listener), the log lines each request writes and
// the request counters are exactly those recorded in
// testdata/golden_answers.txt. It guards the HTTP layer's per-request fast
// paths (request id check, header writes, contexts, encoding): any change of
// bytes fails it. Only the latency and stack values and fresh request ids
// are normalised. Regenerate with -update only for an intended change.
func TestAnswersAreByteIdentical(t *testing.T) {
	prov := "openai"
	created := time.Date(2026, 3, 4, 5, 6, 7, 890123456, time.UTC)
	plain := broker.Secret{ID: testID, Name: "OPENAI_API_KEY", Provider: &prov, MaskedValue: "sk-...cdef",
		Fingerprint: "9f86d081884c7d65", Version: 3, CreatedAt: created, UpdatedAt: created.Add(90 * time.Minute)}
	odd := plain
	odd.Provider, odd.Name, odd.MaskedValue = nil, "A<&>\u2028B", "x\"y\\z\u00e9"
	odd.EgressHosts = []string{"api.openai.com", "<host>&"}

	var out strings.Builder
	run := func(h *harness, cases []goldenCase) {
		for i, tc := range cases {
			if tc.prep != nil {
				tc.prep(h)
			}
			hdr := append([]string{HeaderRequestID, "golden-" + strconv.Itoa(i)}, tc.hdr...)
			before := len(h.logs.String())
			var rec *httptest.ResponseRecorder
			if tc.path == "/metrics" {
				rec = h.adminDo(t, tc.method, tc.path, hdr...)
			} else {
				rec = h.do(t, tc.method, tc.path, tc.body, hdr...)
			}
			res := rec.Result()
			body := new(strings.Builder)
			if tc.path != "/metrics" {
				_, _ = io.Copy(body, res.Body)
			}
			out.WriteString("== " + tc.name + "\n" + res.Status + "\n")
			keys := make([]string, 0, len(res.Header))
			for k := range res.Header {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				if tc.path == "/metrics" && k == "Content-Length" {
					continue // the runtime's figures vary
				}
				out.WriteString(k + ": " + strings.Join(res.Header[k], " | ") + "\n")
			}
			out.WriteString("body " + strconv.Quote(body.String()) + "\n")
			out.WriteString(h.logs.String()[before:])
			h.svc.err, h.svc.panicWith, h.svc.block = nil, nil, false
			h.svc.secret = plain
			h.limiter.decision, h.limiter.err = broker.Decision{Allowed: true, Remaining: 9}, nil
			h.authFail.decision = broker.Decision{Allowed: true, Remaining: 9}
		}
		m := h.metrics(t)
		out.WriteString("== counters\n" + grepLines(m, "broker_http_requests_total{") + "\n" +
			grepLines(m, "broker_http_request_duration_seconds_count{") + "\n")
	}

	h := newHarness(t, Config{RequestTimeout: 200 * time.Millisecond})
	h.svc.secret = plain
	run(h, []goldenCase{
		{name: "get", method: "GET", path: "/api/v1/user/secrets/" + testID},
		{name: "get odd strings", method: "GET", path: "/api/v1/user/secrets/" + testID, prep: func(h *harness) { h.svc.secret = odd }},
		{name: "get pretty", method: "GET", path: "/api/v1/user/secrets/" + testID + "?pretty", prep: func(h *harness) { h.svc.secret = odd }},
		{name: "fresh request id", method: "GET", path: "/api/v1/user/secrets", hdr: []string{HeaderRequestID, "bad id"}},
		{name: "list", method: "GET", path: "/api/v1/user/secrets", prep: func(h *harness) { h.svc.secret = odd }},
		{name: "presets", method: "GET", path: "/api/v1/user/secrets/presets"},
		{name: "versions", method: "GET", path: "/api/v1/user/secrets/" + testID + "/versions"},
		{name: "create", method: "POST", path: "/api/v1/user/secrets", body: `{"name":"OPENAI_API_KEY","value":"sk-0123456789abcdef"}`},
		{name: "update", method: "PUT", path: "/api/v1/user/secrets/" + testID, body: `{"value":"sk-0123456789abcdef"}`},
		{name: "delete", method: "DELETE", path: "/api/v1/user/secrets/" + testID},
		{name: "bearer", method: "GET", path: "/api/v1/user/secrets", hdr: []string{"X-API-Key", "", "Authorization", "Bearer " + testKey}},
		{name: "missing key", method: "GET", path: "/api/v1/user/secrets", hdr: []string{"X-API-Key", ""}},
		{name: "wrong key", method: "GET", path: "/api/v1/user/secrets", hdr: []string{"X-API-Key", "sbk_wrong-key-0123456789abcdef"}},
		{name: "two credentials", method: "GET", path: "/api/v1/user/secrets", hdr: []string{"Authorization", "Bearer sbk_other-key-0123456789abcdef"}},
		{name: "auth limited", method: "GET", path: "/api/v1/user/secrets", prep: func(h *harness) {
			h.authFail.decision = broker.Decision{RetryAfter: 2500 * time.Millisecond}
		}},
		{name: "rate limited", method: "GET", path: "/api/v1/user/secrets", prep: func(h *harness) {
			h.limiter.decision = broker.Decision{Remaining: -2, RetryAfter: 1500 * time.Millisecond}
		}},
		{name: "remaining large", method: "GET", path: "/api/v1/user/secrets", prep: func(h *harness) {
			h.limiter.decision = broker.Decision{Allowed: true, Remaining: 123456}
		}},
		{name: "limiter down", method: "GET", path: "/api/v1/user/secrets", prep: func(h *harness) {
			h.limiter.err = broker.Errorf(broker.CodeUnavailable, "redis down")
		}},
		{name: "not found", method: "GET", path: "/api/v1/user/secrets/" + testID, prep: func(h *harness) {
			h.svc.err = broker.Errorf(broker.CodeNotFound, "no secret %s", testID)
		}},
		{name: "invalid fields", method: "POST", path: "/api/v1/user/secrets", body: `{"name":1}`},
		{name: "unknown field", method: "POST", path: "/api/v1/user/secrets", body: `{"name":"A","value":"v","bogus":true}`},
		{name: "too large", method: "POST", path: "/api/v1/user/secrets", body: jsonOfSize(MaxBodyBytes + 1)},
		{name: "internal", method: "GET", path: "/api/v1/user/secrets", prep: func(h *harness) {
			h.svc.err = broker.Errorf(broker.CodeInternal, "vault said no")
		}},
		{name: "unavailable", method: "GET", path: "/api/v1/user/secrets", prep: func(h *harness) {
			h.svc.err = broker.Errorf(broker.CodeUnavailable, "")
		}},
		{name: "timeout", method: "GET", path: "/api/v1/user/secrets", prep: func(h *harness) { h.svc.block = true }},
		{name: "panic", method: "GET", path: "/api/v1/user/secrets", prep: func(h *harness) { h.svc.panicWith = "boom" }},
		{name: "no route", method: "GET", path: "/nope"},
		{name: "no api route", method: "GET", path: "/api/v1/nope"},
		{name: "head no route", method: "HEAD", path: "/api/v1/nope"},
		{name: "wrong method", method: "POST", path: "/healthz"},
		{name: "healthz", method: "GET", path: "/healthz"},
		{name: "readyz", method: "GET", path: "/readyz"},
		{name: "idempotent create", method: "POST", path: "/api/v1/user/secrets", body: `{"name":"B","value":"sk-0123456789abcdef"}`, hdr: []string{HeaderIdempotencyKey, "k-1"}},
		{name: "idempotent replay", method: "POST", path: "/api/v1/user/secrets", body: `{"name":"B","value":"sk-0123456789abcdef"}`, hdr: []string{HeaderIdempotencyKey, "k-1"}},
		{name: "admin metrics", method: "GET", path: "/metrics"},
	})

	h = newHarness(t, Config{CORSOrigins: []string{"https://app.example.com"}})
	h.svc.secret = plain
	run(h, []goldenCase{
		{name: "cors get", method: "GET", path: "/api/v1/user/secrets/" + testID, hdr: []string{"Origin", "https://app.example.com"}},
		{name: "cors preflight", method: "OPTIONS", path: "/api/v1/user/secrets", hdr: []string{"Origin", "https://app.example.com", "Access-Control-Request-Method", "POST"}},
		{name: "cors other origin", method: "GET", path: "/healthz", hdr: []string{"Origin", "https://evil.example"}},
	})

	got := normaliseGolden(out.String())
	const file = "testdata/golden_answers.txt"
	if *updateGolden {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := 0; i < max(len(gl), len(wl)); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("answers differ from %s at line %d:\n got %q\nwant %q", file, i+1, g, w)
			}
		}
	}
}

var (
	goldenLatency = regexp.MustCompile(`"latency":[0-9.e+-]+`)
	goldenStack   = regexp.MustCompile(`"stack":"(\\.|[^"\\])*"`)
	goldenFreshID = regexp.MustCompile(`\b[0-9a-f]{32}\b`)
)

func normaliseGolden(s string) string {
	s = goldenLatency.ReplaceAllString(s, `"latency":0`)
	s = goldenStack.ReplaceAllString(s, `"stack":"..."`)
	return goldenFreshID.ReplaceAllString(s, "<fresh-id>")
}

// adminDo sends one request to the admin handler.
func (h *harness) adminDo(t *testing.T, method, path string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.srv.AdminHandler().ServeHTTP(rec, req)
	return rec
}
