package broker

import (
	"errors"
	"fmt"
)

// Code classifies an error that crosses a package boundary. Only the handlers
// package maps codes to HTTP statuses.
type Code string

// The error codes. Every error that leaves an adapter or the service carries one.
const (
	CodeInvalid         Code = "invalid"
	CodeNotFound        Code = "not_found"
	CodeConflict        Code = "conflict"
	CodeUnauthenticated Code = "unauthenticated"
	CodeForbidden       Code = "forbidden"
	CodeUnavailable     Code = "unavailable"
	CodeInternal        Code = "internal"
)

// FieldError names one invalid input field and says what is wrong with it.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is the coded error of the domain. Message is safe to show to the
// caller: it never contains a secret value, a token or an API key.
type Error struct {
	Code    Code
	Message string
	Fields  []FieldError
	Err     error // underlying cause, for logs; never shown to callers
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrX) hold for a sentinel ErrX below and for any
// copy of it that carries a cause (an adapter returns the sentinel's code
// and message with Vault's or Redis's error attached): target matches when
// it is an *Error without a cause or fields, of the same code and message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Err == nil && len(t.Fields) == 0 && e.Code == t.Code && e.Message == t.Message
}

// Errorf returns a coded error with a caller-safe message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WithCode returns a coded error with a caller-safe message and an underlying
// cause (kept for logs, reachable with errors.Is/As, never shown to callers).
// Not to be confused with Bootstrapper.Wrap, which wraps a response.
func WithCode(code Code, err error, message string) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// Invalid returns a CodeInvalid error listing the offending fields.
func Invalid(fields ...FieldError) *Error {
	msg := "invalid request"
	if len(fields) == 1 {
		msg = fields[0].Field + ": " + fields[0].Message
	}
	return &Error{Code: CodeInvalid, Message: msg, Fields: fields}
}

// ErrorCode returns the code of the first *Error in err's chain, CodeInternal
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// IsCode reports whether err carries the given code.
func IsCode(err error, code Code) bool { return ErrorCode(err) == code }

// Sentinel errors, for errors.Is. They are shared values: return them as they
// are, never change their fields (to attach a cause, return a copy, or
// WithCode(e.Code, cause, e.Message)).
var (
	// ErrSecretNotFound is the one answer for an absent secret id and for
	// an id that belongs to someone else: the two must be indistinguishable.
	ErrSecretNotFound = &Error{Code: CodeNotFound, Message: "secret not found"}
	// ErrRuntimeNotFound is the one answer for an absent runtime and
	// another user's runtime.
	ErrRuntimeNotFound = &Error{Code: CodeNotFound, Message: "runtime not found"}
	// ErrEvaluationNotFound is the one answer for an absent evaluation and
	// another user's evaluation.
	ErrEvaluationNotFound = &Error{Code: CodeNotFound, Message: "evaluation not found"}
	// ErrIdempotencyInProgress answers a request whose Idempotency-Key
	// another request holds and has not finished (IdempotencyStore.Begin).
	ErrIdempotencyInProgress = &Error{Code: CodeConflict, Message: "a request with this idempotency key is still in progress"}
)
