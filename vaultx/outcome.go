package vaultx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/hashicorp/vault/api"
)

// CallOutcome says what a caller that retries on its own may conclude from
// the error of one Vault call made with an api.Client of NewAPIClient.
// (The broker's own calls go through mapErr and carry a broker error code;
// this is for callers that hold the raw api error, like sandbox-init.)
type CallOutcome int

// Outcomes of ClassifyCall.
const (
	CallOK       CallOutcome = iota // no error
	CallRejected                    // Vault answered and refused (a 4xx other than 429): retrying changes nothing
	CallRetry                       // Vault did not process the request (unreachable, sealed, standby, 5xx, 429)
	CallUnknown                     // the request may have reached Vault; its effect is unknown
)

// ClassifyCall interprets the error of a Vault call. consuming says the call
// uses something up (a wrapping token's unwrap): a failure after the request
// may have reached Vault is then CallUnknown, since a retry could only
// report the token as used. A call that never left this host (dial failed),
// a 429 and a 503 are CallRetry either way.
func ClassifyCall(err error, consuming bool) CallOutcome {
	if err == nil {
		return CallOK
	}
	var re *api.ResponseError
	if errors.As(err, &re) {
		switch {
		case re.StatusCode == http.StatusTooManyRequests, re.StatusCode == http.StatusServiceUnavailable:
			return CallRetry // rate limited, sealed or standby: not processed
		case re.StatusCode >= 500:
			if consuming {
				return CallUnknown
			}
			return CallRetry
		case re.StatusCode >= 400:
			return CallRejected
		}
		return CallUnknown
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return CallRetry // never left this host
	}
	if consuming {
		return CallUnknown
	}
	return CallRetry
}

// DescribeCallError says what went wrong with a Vault call, in words safe to
// log: the HTTP status, or the network failure, never a response body (which
// could echo a token) or a value.
func DescribeCallError(err error) string {
	var re *api.ResponseError
	if errors.As(err, &re) {
		return fmt.Sprintf("vault answered HTTP %d", re.StatusCode)
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return fmt.Sprintf("%s %s: %v", op.Op, op.Net, op.Err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	return fmt.Sprintf("%T", err)
}
