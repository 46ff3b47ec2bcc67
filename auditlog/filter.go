package auditlog

import (
	"slices"
	"time"
)

// Filter selects entries and alerts. Empty fields select everything.
type Filter struct {
	User      string
	SecretID  string // entries, egressd events and egressd's alerts (Vault's alerts name no secret)
	RuntimeID string
	SandboxID string
	RequestID string
	Since     time.Time // inclusive
	Until     time.Time // exclusive
	// HMAC keeps only what holds this HMAC'd value (the audit hash of a
	// known token, accessor or other value, from sys/audit-hash).
	HMAC string
}

// Empty reports whether f selects everything.
func (f Filter) Empty() bool { return f == Filter{} }

func (f Filter) common(t time.Time, user, runtimeID, sandboxID, requestID string, hmacs []string) bool {
	switch {
	case f.User != "" && user != f.User,
		f.RuntimeID != "" && runtimeID != f.RuntimeID,
		f.SandboxID != "" && sandboxID != f.SandboxID,
		f.RequestID != "" && requestID != f.RequestID,
		!f.Since.IsZero() && t.Before(f.Since),
		!f.Until.IsZero() && !t.Before(f.Until),
		f.HMAC != "" && !slices.Contains(hmacs, f.HMAC):
		return false
	}
	return true
}

// Match reports whether f selects e.
func (f Filter) Match(e Entry) bool {
	if f.SecretID != "" && e.SecretID != f.SecretID {
		return false
	}
	return f.common(e.Time, e.User, e.RuntimeID, e.SandboxID, e.RequestID, e.HMACs)
}

// MatchAlert reports whether f selects a. Only an alert naming the secret
// (egressd's) matches a SecretID filter.
func (f Filter) MatchAlert(a Alert) bool {
	if f.SecretID != "" && a.SecretID != f.SecretID {
		return false
	}
	hmacs := a.hmacs
	if a.Accessor != "" {
		hmacs = append(slices.Clone(hmacs), a.Accessor)
	}
	return f.common(a.Time, a.User, a.RuntimeID, a.SandboxID, a.RequestID, hmacs)
}
