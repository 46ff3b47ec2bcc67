package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/acme/secretsbroker/broker"
)

// codeStatus is the contract of statusOf, the one code-to-status mapping.
var codeStatus = []struct {
	code   broker.Code
	status int
	typ    string
}{
	{broker.CodeInvalid, 422, "validation_error"},
	{broker.CodeNotFound, 404, "not_found"},
	{broker.CodeConflict, 409, "conflict"},
	{broker.CodeUnauthenticated, 401, "authentication_error"},
	{broker.CodeForbidden, 403, "forbidden"},
	{broker.CodeUnavailable, 503, "unavailable"},
	{broker.CodeInternal, 500, "internal_error"},
	{broker.Code("no_such_code"), 500, "internal_error"},
}

func TestStatusOfEveryCode(t *testing.T) {
	for _, tc := range codeStatus {
		status, typ := statusOf(tc.code)
		if status != tc.status || typ != tc.typ {
			t.Errorf("statusOf(%q) = %d %s, want %d %s", tc.code, status, typ, tc.status, tc.typ)
		}
	}
}

// TestServiceErrorsThroughHTTP: a coded error from the service reaches the
// caller as its status and envelope, with the caller-safe message as detail
// and the field list. Causes are never shown.
func TestServiceErrorsThroughHTTP(t *testing.T) {
	const cause = "cause-sk-live-0123456789"
	for _, tc := range codeStatus {
		t.Run(string(tc.code), func(t *testing.T) {
			h := newHarness(t, Config{})
			h.svc.err = broker.WithCode(tc.code, errors.New(cause), "safe message")
			rec := h.do(t, "GET", "/api/v1/user/secrets/"+testID, "")
			env := wantEnvelope(t, rec, tc.status, tc.typ)
			if strings.Contains(rec.Body.String(), cause) {
				t.Fatalf("the cause reached the caller: %s", rec.Body)
			}
			wantDetail := "safe message"
			if tc.status == 500 {
				wantDetail = "internal error; the request id identifies it in the broker's logs"
			}
			if env.Detail != wantDetail {
				t.Fatalf("detail %q, want %q", env.Detail, wantDetail)
			}
			// 5xx answers are logged with their cause and the request id.
			logged := h.logs.String()
			if tc.status >= 500 {
				if !strings.Contains(logged, `"message":"request failed"`) || !strings.Contains(logged, rec.Header().Get(HeaderRequestID)) {
					t.Fatalf("5xx not logged with its request id: %s", logged)
				}
			} else if strings.Contains(logged, "request failed") {
				t.Fatalf("a %d was logged as a failure: %s", tc.status, logged)
			}
		})
	}
}

func TestEnvelopeFor(t *testing.T) {
	for name, tc := range map[string]struct {
		err    error
		want   Envelope
		fields int
	}{
		"plain error is internal": {errors.New("boom sk-123"), Envelope{Code: 500, Type: "internal_error", Detail: "internal error; the request id identifies it in the broker's logs"}, 0},
		"wrapped with %w":         {fmt.Errorf("read: %w", broker.Errorf(broker.CodeNotFound, "secret not found")), Envelope{Code: 404, Type: "not_found", Detail: "secret not found"}, 0},
		"unavailable default":     {&broker.Error{Code: broker.CodeUnavailable}, Envelope{Code: 503, Type: "unavailable", Detail: "a dependency of the broker is unavailable; retry later"}, 0},
		"empty message":           {&broker.Error{Code: broker.CodeConflict}, Envelope{Code: 409, Type: "conflict", Detail: "conflict"}, 0},
		"fields":                  {broker.Invalid(broker.FieldError{Field: "name", Message: "is required"}, broker.FieldError{Field: "value", Message: "must not be empty"}), Envelope{Code: 422, Type: "validation_error", Detail: "invalid request"}, 2},
		"too large":               {errTooLarge(), Envelope{Code: 413, Type: "payload_too_large", Detail: "request body is larger than 1 MiB"}, 0},
		"rate limited":            {errRateLimited(), Envelope{Code: 429, Type: "rate_limited", Detail: "too many requests; retry after the number of seconds in Retry-After"}, 0},
		"echo 404":                {echo.ErrNotFound, Envelope{Code: 404, Type: "not_found", Detail: "no such route"}, 0},
		"echo 405":                {echo.ErrMethodNotAllowed, Envelope{Code: 405, Type: "method_not_allowed", Detail: "method not allowed on this route"}, 0},
		"echo 413":                {echo.ErrStatusRequestEntityTooLarge, Envelope{Code: 413, Type: "payload_too_large", Detail: "request body is larger than 1 MiB"}, 0},
		"echo 401":                {echo.ErrUnauthorized, Envelope{Code: 401, Type: "authentication_error", Detail: "missing or invalid API key"}, 0},
		"echo 400":                {echo.NewHTTPError(400, "parser said sk-123"), Envelope{Code: 400, Type: "validation_error", Detail: "Bad Request"}, 0},
		"echo 415":                {echo.ErrUnsupportedMediaType, Envelope{Code: 415, Type: "validation_error", Detail: "Unsupported Media Type"}, 0},
		"echo 502":                {echo.ErrBadGateway, Envelope{Code: 502, Type: "internal_error", Detail: "Bad Gateway"}, 0},
	} {
		got := envelopeFor(tc.err)
		if got.Code != tc.want.Code || got.Type != tc.want.Type || got.Detail != tc.want.Detail || len(got.Errors) != tc.fields {
			t.Errorf("%s: envelopeFor = %+v, want %+v with %d fields", name, got, tc.want, tc.fields)
		}
	}
}

// TestTimeoutIs503: a request that outlives RequestTimeout answers 503
// unavailable, not 500.
func TestTimeoutIs503(t *testing.T) {
	h := newHarness(t, Config{RequestTimeout: 20 * time.Millisecond})
	h.svc.block = true
	rec := h.do(t, "GET", "/api/v1/user/secrets", "")
	env := wantEnvelope(t, rec, http.StatusServiceUnavailable, "unavailable")
	if !strings.Contains(env.Detail, "timed out") {
		t.Fatalf("detail %q", env.Detail)
	}
	// A deadline wrapped in a coded error keeps its code.
	h.svc.block = false
	h.svc.err = broker.WithCode(broker.CodeConflict, context.DeadlineExceeded, "busy")
	wantEnvelope(t, h.do(t, "GET", "/api/v1/user/secrets", ""), http.StatusConflict, "conflict")
}

// TestHeadErrorHasNoBody: a HEAD that fails answers the status alone.
func TestHeadErrorHasNoBody(t *testing.T) {
	h := newHarness(t, Config{})
	rec := h.do(t, "HEAD", "/api/v1/nope", "")
	if rec.Code != http.StatusNotFound || rec.Body.Len() != 0 {
		t.Fatalf("HEAD: %d %q", rec.Code, rec.Body)
	}
}
