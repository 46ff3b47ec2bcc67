package handlers

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/acme/secretsbroker/broker"
)

// Envelope is the one error body of the API (docs/design.md section 3).
type Envelope struct {
	Code   int                 `json:"code"`
	Type   string              `json:"type"`
	Detail string              `json:"detail"`
	Errors []broker.FieldError `json:"errors,omitempty"`
}

// statusOf is the one place that maps error codes to HTTP statuses.
func statusOf(code broker.Code) (int, string) {
	switch code {
	case broker.CodeInvalid:
		return http.StatusUnprocessableEntity, "validation_error"
	case broker.CodeNotFound:
		return http.StatusNotFound, "not_found"
	case broker.CodeConflict:
		return http.StatusConflict, "conflict"
	case broker.CodeUnauthenticated:
		return http.StatusUnauthorized, "authentication_error"
	case broker.CodeForbidden:
		return http.StatusForbidden, "forbidden"
	case broker.CodeUnavailable:
		return http.StatusServiceUnavailable, "unavailable"
	default:
		return http.StatusInternalServerError, "internal_error"
	}
}

// httpError is an error the HTTP layer itself raises (body too large, rate
// limited, unknown route): it already knows its status.
type httpError struct {
	status int
	typ    string
	detail string
}

func (e *httpError) Error() string { return e.detail }

func errTooLarge() error {
	return &httpError{http.StatusRequestEntityTooLarge, "payload_too_large", "request body is larger than 1 MiB"}
}

func errCredentials(detail string) error {
	return &httpError{http.StatusBadRequest, "validation_error", detail}
}

func errFraming() error {
	return &httpError{http.StatusBadRequest, "validation_error", "Transfer-Encoding is not accepted: send the body with Content-Length"}
}

func errRateLimited() error {
	return &httpError{http.StatusTooManyRequests, "rate_limited", "too many requests; retry after the number of seconds in Retry-After"}
}

// envelopeFor turns any error into the status and envelope to send. Details
// of internal errors are logged, never shown.
func envelopeFor(err error) Envelope {
	var he *httpError
	if errors.As(err, &he) {
		return Envelope{Code: he.status, Type: he.typ, Detail: he.detail}
	}
	var ee *echo.HTTPError
	if errors.As(err, &ee) {
		return echoEnvelope(ee)
	}
	var be *broker.Error
	if !errors.As(err, &be) {
		be = &broker.Error{Code: broker.CodeInternal}
	}
	status, typ := statusOf(be.Code)
	env := Envelope{Code: status, Type: typ, Detail: be.Message, Errors: be.Fields}
	switch {
	case status == http.StatusInternalServerError: // CodeInternal, or a code this layer does not know
		env.Detail = "internal error; the request id identifies it in the broker's logs"
	case be.Code == broker.CodeUnavailable:
		if env.Detail == "" {
			env.Detail = "a dependency of the broker is unavailable; retry later"
		}
	}
	if env.Detail == "" {
		env.Detail = typ
	}
	return env
}

func echoEnvelope(ee *echo.HTTPError) Envelope {
	switch ee.Code {
	case http.StatusNotFound:
		return Envelope{Code: ee.Code, Type: "not_found", Detail: "no such route"}
	case http.StatusMethodNotAllowed:
		return Envelope{Code: ee.Code, Type: "method_not_allowed", Detail: "method not allowed on this route"}
	case http.StatusRequestEntityTooLarge:
		return Envelope{Code: ee.Code, Type: "payload_too_large", Detail: "request body is larger than 1 MiB"}
	case http.StatusUnauthorized:
		return Envelope{Code: ee.Code, Type: "authentication_error", Detail: "missing or invalid API key"}
	}
	status, typ := ee.Code, "internal_error"
	if status < 500 {
		typ = "validation_error"
	}
	return Envelope{Code: status, Type: typ, Detail: http.StatusText(status)}
}
