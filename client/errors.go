package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/acme/secretsbroker/broker"
)

// APIError is a non-2xx answer of the broker: its error envelope (DESIGN
// section 3) and HTTP status. It unwraps to a *broker.Error with the code the
// broker's handlers mapped to that status, so broker.ErrorCode(err) and
// broker.IsCode(err, broker.CodeNotFound) work on any error this package
// returns; errors.As(err, &apiErr) gives the HTTP details.
type APIError struct {
	Status     int                 // HTTP status
	Type       string              // envelope type (validation_error, not_found, ...); "" when the body was not an envelope
	Detail     string              // envelope detail, safe to show
	Fields     []broker.FieldError // for validation errors: the offending fields
	RetryAfter time.Duration       // Retry-After of a 429 or 503, when given in seconds
	RequestID  string              // X-Request-Id of the answer, to find it in the broker's logs
	Code       broker.Code         // the broker error code of Type (or of Status)
}

// Unwrap returns the coded broker error the answer stands for.
func (e *APIError) Unwrap() error {
	return &broker.Error{Code: e.Code, Message: e.Detail, Fields: e.Fields}
}

// Error renders one line: detail, the fields the detail does not already
// name, the Retry-After, then [type status].
func (e *APIError) Error() string {
	var b strings.Builder
	detail := oneLine(e.Detail)
	if detail == "" {
		detail = strings.ToLower(http.StatusText(e.Status))
		if detail == "" {
			detail = "unexpected answer"
		}
	}
	b.WriteString(detail)
	fields := e.Fields
	if len(fields) == 1 && detail == fields[0].Field+": "+fields[0].Message {
		fields = nil // the detail already says it
	}
	for i, f := range fields {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		if f.Field != "" {
			b.WriteString(oneLine(f.Field) + ": ")
		}
		b.WriteString(oneLine(f.Message))
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %ds)", int(e.RetryAfter/time.Second))
	}
	typ := e.Type
	if typ == "" {
		typ = "HTTP"
	}
	fmt.Fprintf(&b, " [%s %d]", typ, e.Status)
	return b.String()
}

// envelope is the broker's one error body.
type envelope struct {
	Code   int                 `json:"code"`
	Type   string              `json:"type"`
	Detail string              `json:"detail"`
	Errors []broker.FieldError `json:"errors"`
}

// errorOf turns a non-2xx answer into an *APIError. A body that is not the
// broker's envelope (a proxy's HTML page) is never shown: only its status.
func errorOf(status int, h http.Header, body []byte) *APIError {
	e := &APIError{Status: status, RequestID: h.Get("X-Request-Id")}
	if s, err := strconv.Atoi(strings.TrimSpace(h.Get("Retry-After"))); err == nil && s > 0 {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	var env envelope
	if json.Unmarshal(body, &env) == nil && env.Type != "" && env.Code == status {
		e.Type, e.Detail, e.Fields = env.Type, env.Detail, env.Errors
	}
	e.Code = codeOf(status, e.Type)
	return e
}

// codeOf maps an envelope type (or, without one, an HTTP status) back to the
// broker error code handlers mapped to it. payload_too_large and any other
// 4xx are invalid; rate_limited is unavailable (retry later).
func codeOf(status int, typ string) broker.Code {
	switch typ {
	case "validation_error", "payload_too_large", "method_not_allowed":
		return broker.CodeInvalid
	case "not_found":
		return broker.CodeNotFound
	case "conflict":
		return broker.CodeConflict
	case "authentication_error":
		return broker.CodeUnauthenticated
	case "forbidden":
		return broker.CodeForbidden
	case "unavailable", "rate_limited":
		return broker.CodeUnavailable
	case "internal_error":
		return broker.CodeInternal
	}
	switch {
	case status == http.StatusNotFound:
		return broker.CodeNotFound
	case status == http.StatusConflict:
		return broker.CodeConflict
	case status == http.StatusUnauthorized:
		return broker.CodeUnauthenticated
	case status == http.StatusForbidden:
		return broker.CodeForbidden
	case status == http.StatusTooManyRequests, status == http.StatusServiceUnavailable,
		status == http.StatusBadGateway, status == http.StatusGatewayTimeout:
		return broker.CodeUnavailable
	case status >= 400 && status < 500:
		return broker.CodeInvalid
	}
	return broker.CodeInternal
}

// TransportError is a request that got no answer: the broker is unreachable,
// the attempt timed out, or the context ended. It unwraps to the cause (so
// errors.Is(err, context.DeadlineExceeded) works) and to a
// broker.CodeUnavailable error.
type TransportError struct {
	Method string
	URL    string // the broker's base URL (never a path with ids, never the key)
	Err    error  // the cause, without the *url.Error wrapper
}

func (e *TransportError) Error() string {
	cause := "no answer"
	if e.Timeout() {
		cause = "timed out"
	} else if e.Err != nil {
		cause = e.Err.Error()
	}
	return e.Method + " " + e.URL + ": " + cause
}

// Unwrap returns the cause and a broker.CodeUnavailable error.
func (e *TransportError) Unwrap() []error {
	return []error{e.Err, &broker.Error{Code: broker.CodeUnavailable, Message: "the broker did not answer"}}
}

// Timeout reports whether the attempt or the context timed out.
func (e *TransportError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.Err, &t) && t.Timeout() || errors.Is(e.Err, context.DeadlineExceeded)
}

func transportError(method, base string, err error) *TransportError {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return &TransportError{Method: method, URL: base, Err: timeoutError{ue.Err}}
		}
		err = ue.Err
	}
	return &TransportError{Method: method, URL: base, Err: err}
}

// timeoutError marks a cause as a timeout (http.Client's own deadline).
type timeoutError struct{ err error }

func (t timeoutError) Error() string { return "timed out: " + t.err.Error() }
func (t timeoutError) Timeout() bool { return true }
func (t timeoutError) Unwrap() error { return t.err }

// oneLine collapses whitespace runs containing newlines into one space.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}
