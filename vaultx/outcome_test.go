package vaultx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"
)

func TestClassifyCall(t *testing.T) {
	status := func(code int) error {
		return fmt.Errorf("call: %w", &api.ResponseError{StatusCode: code, Errors: []string{"hvs.secret-token-in-body"}})
	}
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	read := &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset")}
	for _, c := range []struct {
		name      string
		err       error
		consuming bool
		want      CallOutcome
	}{
		{"nil", nil, true, CallOK},
		{"400", status(400), true, CallRejected},
		{"403", status(403), false, CallRejected},
		{"429", status(429), true, CallRetry},
		{"503 sealed", status(503), true, CallRetry},
		{"500 lookup", status(500), false, CallRetry},
		{"500 unwrap", status(500), true, CallUnknown},
		{"502 unwrap", status(502), true, CallUnknown},
		{"dial unwrap", dial, true, CallRetry},
		{"read lookup", read, false, CallRetry},
		{"read unwrap", read, true, CallUnknown},
		{"timeout unwrap", context.DeadlineExceeded, true, CallUnknown},
	} {
		if got := ClassifyCall(c.err, c.consuming); got != c.want {
			t.Errorf("%s: ClassifyCall = %d, want %d", c.name, got, c.want)
		}
	}
	if d := DescribeCallError(status(500)); d != "vault answered HTTP 500" || strings.Contains(d, "hvs.") {
		t.Errorf("DescribeCallError = %q", d)
	}
	if d := DescribeCallError(dial); !strings.Contains(d, "dial tcp") {
		t.Errorf("DescribeCallError(dial) = %q", d)
	}
}
