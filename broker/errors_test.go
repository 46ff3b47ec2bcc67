package broker

import (
	"errors"
	"fmt"
	"testing"
)

func TestSentinelsWorkWithErrorsIs(t *testing.T) {
	cause := errors.New("vault: 404")
	copyWithCause := *ErrSecretNotFound
	copyWithCause.Err = cause
	for _, c := range []struct {
		name   string
		err    error
		target error
		want   bool
	}{
		{"itself", ErrSecretNotFound, ErrSecretNotFound, true},
		{"wrapped with %w", fmt.Errorf("get: %w", ErrRuntimeNotFound), ErrRuntimeNotFound, true},
		{"a copy carrying a cause", &copyWithCause, ErrSecretNotFound, true},
		{"the cause is still reachable", &copyWithCause, cause, true},
		{"same code, other message", Errorf(CodeNotFound, "runtime not found!"), ErrRuntimeNotFound, false},
		{"other sentinel", ErrEvaluationNotFound, ErrRuntimeNotFound, false},
		{"same message, other code", Errorf(CodeConflict, "secret not found"), ErrSecretNotFound, false},
		{"target with a cause is no sentinel", ErrSecretNotFound, &copyWithCause, false},
	} {
		if got := errors.Is(c.err, c.target); got != c.want {
			t.Errorf("%s: errors.Is = %v, want %v", c.name, got, c.want)
		}
	}
	if ErrSecretNotFound.Err != nil || ErrSecretNotFound.Message != "secret not found" || !IsCode(ErrIdempotencyInProgress, CodeConflict) {
		t.Fatal("a sentinel was changed")
	}
}
