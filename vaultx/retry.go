package vaultx

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/acme/secretsbroker/broker"
)

// Riding out a leader election (or a restart, a seal, a frozen node): the
// broker's own calls are retried with backoff within the caller's deadline
// (or Config.Timeout when the caller has none), so a client sees the 503
// envelope only once that deadline has passed. What is retried:
//
//   - a call that is safe to repeat (reads, lists, deletes, KV writes without
//     check-and-set, transit operations, revoking an accessor): on any
//     failure that is not a definitive answer (transport errors, 5xx, 429);
//   - a call that must not run twice (a check-and-set write, a wrapped read
//     that mints a token): only when it was certainly not processed (the dial
//     failed, or 503 or 429: sealed, standby, no active node behind the load
//     balancer, rate limited). Any other failure leaves its effect unknown;
//     for a check-and-set write kvWrite then reads the version back to tell
//     applied from not applied (see kvWriteCAS).
//
// Config.MaxRetries < 0 turns retries off.

// Backoff bounds: 50 ms doubling to 1 s, with jitter.
const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = time.Second
)

// retryClass is what may be done after one attempt.
type retryClass int

const (
	attemptFinal   retryClass = iota // success, or an answer retrying cannot change
	attemptRetry                     // safe to send again
	attemptUnknown                   // may have been applied: do not resend blindly
)

// classifyAttempt applies the policy above to the error of one attempt;
// idempotent says the call is safe to repeat.
func classifyAttempt(err error, idempotent bool) retryClass {
	if err == nil {
		return attemptFinal
	}
	var be *broker.Error
	if errors.As(err, &be) {
		return attemptFinal // encoding or decoding here: nothing Vault said
	}
	switch ClassifyCall(err, !idempotent) {
	case CallRetry:
		return attemptRetry
	case CallUnknown:
		return attemptUnknown
	}
	return attemptFinal
}

// backoff is the pause before retry n (0-based): 50 ms, 100 ms, ... 1 s,
// each between half and all of that.
func backoff(n int) time.Duration {
	d := maxBackoff
	if n < 5 {
		d = min(minBackoff<<n, maxBackoff)
	}
	return d/2 + rand.N(d/2+1)
}

// retryDeadline is when retries stop: the caller's deadline, or timeout from
// start when the caller set none.
func retryDeadline(ctx context.Context, start time.Time, timeout time.Duration) time.Time {
	if dl, ok := ctx.Deadline(); ok {
		return dl
	}
	return start.Add(timeout)
}

// minAttempt is the least time left worth another attempt.
const minAttempt = 50 * time.Millisecond

// pause sleeps before retry n unless that would leave less than minAttempt
// before deadline or ctx ends first; it reports whether to try again.
func pause(ctx context.Context, n int, deadline time.Time) bool {
	d := backoff(n)
	if time.Until(deadline) < d+minAttempt {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// withRetries runs attempt until it succeeds, fails in a way retrying cannot
// change (or, for a call that is not idempotent, may have been applied), or
// the deadline leaves no room for another attempt. It returns the last
// attempt's answer.
func (c *Client) withRetries(ctx context.Context, idempotent bool, attempt func() (*envelope, error)) (*envelope, error) {
	start := time.Now()
	deadline := retryDeadline(ctx, start, c.cfg.Timeout)
	for n := 0; ; n++ {
		env, err := attempt()
		if err == nil || c.cfg.MaxRetries < 0 || ctx.Err() != nil || classifyAttempt(err, idempotent) != attemptRetry {
			return env, err
		}
		if !pause(ctx, n, deadline) {
			return env, err
		}
		if n == 0 {
			c.log.Debug().Str("cause", DescribeCallError(err)).Msg("vault call failed; retrying within the deadline")
		}
	}
}
