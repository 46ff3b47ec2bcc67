package vaultx

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/hashicorp/vault/api"

	"github.com/acme/secretsbroker/broker"
)

// statusOf returns the HTTP status of a Vault answer carried by err, or 0 when
// Vault did not answer (connection refused, timeout, cancelled).
func statusOf(err error) int {
	var re *api.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

// isCASMismatch reports whether err is KV v2's check-and-set failure.
//
// Vault answers a failed check-and-set with a plain 400 whose only
// distinguishing mark is its error text ("check-and-set parameter did not
// match the current version"); there is no structured field. This is the one
// place that reads that text.
func isCASMismatch(err error) bool {
	if errors.Is(err, errCASLost) {
		return true
	}
	var re *api.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusBadRequest {
		return false
	}
	for _, e := range re.Errors {
		if strings.Contains(e, "check-and-set") {
			return true
		}
	}
	return false
}

// isPermissionDenied reports a 403 answer.
func isPermissionDenied(err error) bool { return statusOf(err) == http.StatusForbidden }

// mapErr turns an error of the api client into a coded *broker.Error. what
// names the operation in caller-safe words ("read secret"); Vault's own text
// stays in Err, for logs. notFound, when non-nil, is returned for a 404.
func mapErr(err error, what string, notFound *broker.Error) error {
	if err == nil {
		return nil
	}
	st := statusOf(err)
	if errors.Is(err, errNoData) {
		st = http.StatusNotFound
	} else if be := (*broker.Error)(nil); errors.As(err, &be) {
		return err
	}
	switch {
	case st == http.StatusNotFound:
		if notFound != nil {
			nf := *notFound
			nf.Err = err
			return &nf
		}
		return broker.WithCode(broker.CodeNotFound, err, what+": not found")
	case isCASMismatch(err):
		return broker.WithCode(broker.CodeConflict, err, what+": modified concurrently")
	case st == http.StatusForbidden:
		return broker.WithCode(broker.CodeForbidden, err, what+": permission denied by vault")
	case st == http.StatusTooManyRequests:
		return broker.WithCode(broker.CodeUnavailable, err, what+": vault rate limit reached")
	case st == http.StatusServiceUnavailable:
		return broker.WithCode(broker.CodeUnavailable, err, what+": vault unavailable (sealed or in maintenance)")
	case st >= 500:
		// 502/504, and a 500 from a Vault that is shutting down or losing
		// its storage (raft): the dependency failed, not the broker.
		return broker.WithCode(broker.CodeUnavailable, err, what+": vault unavailable")
	case st != 0:
		return broker.WithCode(broker.CodeInternal, err, what+": vault error")
	}
	return broker.WithCode(broker.CodeUnavailable, err, what+": vault unreachable: "+transportCause(err))
}

// transportCause describes a failure to get an answer, without values.
func transportCause(err error) string {
	var ne net.Error
	var oe *net.OpError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "request cancelled"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.As(err, &oe) && oe.Op == "dial":
		return "connection refused"
	}
	return "connection failed"
}

// errorTextContains reports whether one of Vault's error strings in err
// contains s. Only the isX helpers that document why may use it.
func errorTextContains(err error, s string) bool {
	var re *api.ResponseError
	if !errors.As(err, &re) {
		return false
	}
	for _, e := range re.Errors {
		if strings.Contains(e, s) {
			return true
		}
	}
	return false
}
