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

// ErrNotFound is the one answer for an absent id and for an id that belongs to
// someone else: the two must be indistinguishable.
func errSecretNotFound() *Error { return Errorf(CodeNotFound, "secret not found") }
