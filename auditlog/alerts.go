package auditlog

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/acme/secretsbroker/layout"
)

// AlertKind says what needs a person.
type AlertKind string

// Alert kinds.
const (
	// AlertFailedUnwrap: an unwrap or lookup of a bootstrap token failed.
	// Reason says why: replay (the token had been unwrapped before: someone
	// else may hold the secrets), expired, revoked, or unknown (not minted in
	// this log: forged, or minted before the log starts).
	AlertFailedUnwrap AlertKind = "failed_unwrap"
	// AlertExpiredUnused: a bootstrap token expired without being unwrapped
	// or revoked (the sandbox never started, or never fetched its env).
	AlertExpiredUnused AlertKind = "expired_unused"
	// AlertPermissionDenied: Vault refused a call ("permission denied").
	AlertPermissionDenied AlertKind = "permission_denied"
	// AlertCreationPath: sandbox-init refused a token whose creation path
	// was not its sandbox's (exit 5): a forged token, never unwrapped.
	AlertCreationPath AlertKind = "creation_path_mismatch"
	// AlertTokenRefused: sandbox-init found its token expired, unknown or
	// already used (exit 4).
	AlertTokenRefused AlertKind = "sandbox_token_refused"
)

// Reasons of AlertFailedUnwrap.
const (
	ReasonReplay  = "replay"
	ReasonExpired = "expired"
	ReasonRevoked = "revoked"
	ReasonUnknown = "unknown"
)

// Alert is one finding that needs a person.
type Alert struct {
	Kind      AlertKind `json:"kind"`
	Reason    string    `json:"reason,omitempty"`
	Time      time.Time `json:"time"`
	Message   string    `json:"message"`
	User      string    `json:"user,omitempty"`
	RequestID string    `json:"request_id,omitempty"`
	RuntimeID string    `json:"runtime_id,omitempty"`
	SandboxID string    `json:"sandbox_id,omitempty"`
	Path      string    `json:"path,omitempty"`
	// Accessor is the bootstrap token's accessor as the audit log holds it
	// (HMAC'd); sandbox-init alerts carry the accessor it was given.
	Accessor       string `json:"accessor,omitempty"`
	RemoteAddress  string `json:"remote_address,omitempty"`
	VaultRequestID string `json:"vault_request_id,omitempty"`
	// SecretID, Host and PlaceholderSandboxID are set on egressd's
	// tripwires (AlertEgress).
	SecretID             string `json:"secret_id,omitempty"`
	Host                 string `json:"host,omitempty"`
	PlaceholderSandboxID string `json:"placeholder_sandbox_id,omitempty"`
	Source               string `json:"source"` // "vault-audit", "sandbox-init" or "egressd"

	hmacs []string
}

// token is a bootstrap (response-wrapping) token minted by a wrapped read.
type token struct {
	tokenHMAC, accessor string
	creationPath        string
	expires             time.Time
	user, requestID     string
	runtimeID           string
	sandboxID           string
	usedAt, revokedAt   time.Time
	usedFrom            string
}

// link registers the token a wrapped read minted, links unwraps, lookups
// and revocations to theirs, and raises the alerts of a failed call.
func (s *Stream) link(e *Entry) {
	if e.Wrapped != nil && e.wrapTokenHMAC != "" {
		t := &token{
			tokenHMAC: e.wrapTokenHMAC, accessor: e.Wrapped.Accessor, creationPath: e.Wrapped.CreationPath,
			expires: e.Wrapped.ExpiresAt, user: e.User, requestID: e.RequestID,
			runtimeID: e.RuntimeID, sandboxID: e.SandboxID,
		}
		s.tokens[t.tokenHMAC] = t
		if t.accessor != "" {
			s.byAccessor[t.accessor] = t
		}
		s.stats.Tokens++
	}
	var t *token
	if e.tokenHMAC != "" {
		t = s.tokens[e.tokenHMAC]
	}
	if t == nil && e.accessorHMAC != "" {
		t = s.byAccessor[e.accessorHMAC]
	}
	if t != nil {
		inherited := false
		set := func(dst *string, v string) {
			if *dst == "" && v != "" {
				*dst, inherited = v, true
			}
		}
		set(&e.User, t.user)
		set(&e.RequestID, t.requestID)
		set(&e.RuntimeID, t.runtimeID)
		set(&e.SandboxID, firstNonEmpty(t.sandboxID, layout.SandboxFromCreationPath(t.creationPath)))
		if inherited {
			e.Via = ViaToken
		}
		for _, h := range []string{t.tokenHMAC, t.accessor} {
			if h != "" && !slices.Contains(e.HMACs, h) {
				e.HMACs = append(e.HMACs, h)
			}
		}
		if !e.Failed() {
			switch e.Call {
			case ActionUnwrap:
				if t.usedAt.IsZero() {
					t.usedAt, t.usedFrom = e.Time, e.RemoteAddress
				}
			case ActionRevoke:
				if t.revokedAt.IsZero() {
					t.revokedAt = e.Time
				}
			}
		}
	}
	if !e.Failed() {
		return
	}
	if e.Call == ActionUnwrap || e.Call == ActionLookup {
		s.alerts = append(s.alerts, failedUnwrap(e, t))
		return
	}
	if strings.Contains(strings.ToLower(e.Error), "permission denied") {
		a := alertFrom(e, AlertPermissionDenied)
		who := firstNonEmpty(e.DisplayName, "a caller without a valid token")
		a.Message = fmt.Sprintf("Vault denied %s %s to %s (from %s)", e.Operation, e.Path, who, orUnknown(e.RemoteAddress))
		s.alerts = append(s.alerts, a)
	}
}

func failedUnwrap(e *Entry, t *token) Alert {
	a := alertFrom(e, AlertFailedUnwrap)
	what := "unwrap"
	if e.Call == ActionLookup {
		what = "lookup"
	}
	switch {
	case t == nil:
		a.Reason = ReasonUnknown
		a.Message = fmt.Sprintf("%s of a bootstrap token not minted in this log (forged, or minted before the log starts) failed: %s", what, e.Error)
	case !t.usedAt.IsZero() && !e.Time.Before(t.usedAt):
		a.Reason = ReasonReplay
		a.Message = fmt.Sprintf("REPLAY: %s of a bootstrap token already unwrapped at %s from %s; someone else may hold the secrets of sandbox %s",
			what, t.usedAt.UTC().Format(time.RFC3339), orUnknown(t.usedFrom), orUnknown(a.SandboxID))
	case !t.revokedAt.IsZero() && !e.Time.Before(t.revokedAt):
		a.Reason = ReasonRevoked
		a.Message = fmt.Sprintf("%s of a bootstrap token revoked at %s", what, t.revokedAt.UTC().Format(time.RFC3339))
	case !t.expires.IsZero() && !e.Time.Before(t.expires):
		a.Reason = ReasonExpired
		a.Message = fmt.Sprintf("%s of a bootstrap token that expired at %s", what, t.expires.UTC().Format(time.RFC3339))
	default:
		a.Reason = ReasonUnknown
		a.Message = fmt.Sprintf("%s of a live bootstrap token failed: %s", what, e.Error)
	}
	if t != nil {
		a.Accessor = t.accessor
	}
	return a
}

func alertFrom(e *Entry, k AlertKind) Alert {
	return Alert{
		Kind: k, Time: e.Time, User: e.User, RequestID: e.RequestID, RuntimeID: e.RuntimeID,
		SandboxID: e.SandboxID, Path: e.Path, RemoteAddress: e.RemoteAddress,
		VaultRequestID: e.VaultRequestID, Source: "vault-audit", hmacs: slices.Clone(e.HMACs),
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// Alerts returns the alerts found so far, sorted by time: failed unwraps
// and lookups, permission denials, and bootstrap tokens that were neither
// unwrapped nor revoked before they expired, as of now (zero now: the time
// of the latest entry in the log). Calls still waiting in the Stream (see
// Flush) are not judged yet; call Close first for a whole log.
func (s *Stream) Alerts(now time.Time) []Alert {
	if now.IsZero() {
		now = s.lastTime
	}
	out := slices.Clone(s.alerts)
	seen := map[*token]bool{}
	for _, k := range sortedKeys(s.tokens) {
		t := s.tokens[k]
		if seen[t] || !t.usedAt.IsZero() || !t.revokedAt.IsZero() || t.expires.IsZero() || t.expires.After(now) {
			continue
		}
		seen[t] = true
		out = append(out, Alert{
			Kind: AlertExpiredUnused, Time: t.expires, User: t.user, RequestID: t.requestID,
			RuntimeID: t.runtimeID, SandboxID: firstNonEmpty(t.sandboxID, layout.SandboxFromCreationPath(t.creationPath)),
			Path: t.creationPath, Accessor: t.accessor, Source: "vault-audit",
			Message: fmt.Sprintf("bootstrap token expired at %s without being unwrapped or revoked (the sandbox never fetched its env)",
				t.expires.UTC().Format(time.RFC3339)),
			hmacs: []string{t.tokenHMAC, t.accessor},
		})
	}
	SortAlerts(out)
	return out
}

// SortAlerts sorts alerts by time, then kind.
func SortAlerts(as []Alert) {
	slices.SortStableFunc(as, func(a, b Alert) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return strings.Compare(string(a.Kind), string(b.Kind))
	})
}
