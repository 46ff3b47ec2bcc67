package auditlog

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// egressd's log lines (cmd/egressd, package egressproxy): one JSON object
// a line; the substitutions and tripwire alerts are the lines whose
// "event" is one of these. Other lines (requests, start-up) are counted
// and skipped.
const (
	EgressEventSubstitution = "egress_substitution"
	EgressEventAlert        = "egress_alert"
)

// AlertEgress is an egressd tripwire; Reason is egressd's alert kind
// (wrong_host, foreign_sandbox, placeholder_in_query, placeholder_in_body,
// plain_http, reflection, prefix_mismatch).
const AlertEgress AlertKind = "egress_tripwire"

// EgressEvent is one substitution or alert line of egressd's log.
type EgressEvent struct {
	Time      time.Time `json:"time"`
	Event     string    `json:"event"`
	RequestID string    `json:"request_id"`
	SandboxID string    `json:"sandbox_id"`
	RuntimeID string    `json:"runtime_id,omitempty"`
	UserID    string    `json:"user_id,omitempty"`
	SecretID  string    `json:"secret_id,omitempty"`
	Host      string    `json:"host"`
	Method    string    `json:"method"`
	Path      string    `json:"path"`
	Status    int       `json:"status"`
	Bytes     int64     `json:"bytes"`
	Outcome   string    `json:"outcome"`
	Alert     string    `json:"alert,omitempty"`
	// PlaceholderSandboxID is the sandbox the placeholder belongs to, when
	// another sandbox presented it (foreign_sandbox).
	PlaceholderSandboxID string `json:"placeholder_sandbox_id,omitempty"`
	PlaceholderUserID    string `json:"placeholder_user_id,omitempty"`
	Detail               string `json:"detail,omitempty"`
	Source               string `json:"source"` // the log file it came from ("-": stdin)
}

// EgressLogStats count what ParseEgressLog read.
type EgressLogStats struct {
	Lines   int `json:"lines"`   // non-blank lines
	Events  int `json:"events"`  // substitutions and alerts
	Skipped int `json:"skipped"` // not JSON, or another event
}

// ParseEgressLog reads egressd's log and returns its substitutions and
// alerts in order. Lines that are not JSON or are other events are counted
// and skipped; only a read error of r is an error.
func ParseEgressLog(r io.Reader, source string) ([]EgressEvent, EgressLogStats, error) {
	var out []EgressEvent
	var st EgressLogStats
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			st.Lines++
			st.Skipped++
			for err == bufio.ErrBufferFull {
				_, err = br.ReadSlice('\n')
			}
			line = nil
		}
		if len(strings.TrimSpace(string(line))) > 0 {
			st.Lines++
			var e EgressEvent
			if json.Unmarshal(line, &e) == nil && (e.Event == EgressEventSubstitution || e.Event == EgressEventAlert) {
				e.Source = source
				out = append(out, e)
				st.Events++
			} else {
				st.Skipped++
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return out, st, err
		}
	}
	return out, st, nil
}

// IsAlert reports whether e is a tripwire alert.
func (e EgressEvent) IsAlert() bool { return e.Event == EgressEventAlert }

// AsAlert is e as an Alert (ok false for a substitution).
func (e EgressEvent) AsAlert() (Alert, bool) {
	if !e.IsAlert() {
		return Alert{}, false
	}
	a := Alert{
		Kind: AlertEgress, Reason: e.Alert, Time: e.Time, User: e.UserID, RequestID: e.RequestID,
		RuntimeID: e.RuntimeID, SandboxID: e.SandboxID, SecretID: e.SecretID, Host: e.Host,
		PlaceholderSandboxID: e.PlaceholderSandboxID, Source: "egressd",
	}
	secret := e.SecretID
	if secret == "" {
		secret = "(unknown)"
	}
	switch e.Alert {
	case "foreign_sandbox":
		a.Message = fmt.Sprintf("sandbox %s presented a placeholder of sandbox %s (secret %s) towards %s: %s", e.SandboxID, e.PlaceholderSandboxID, secret, e.Host, e.Outcome)
	case "wrong_host":
		a.Message = fmt.Sprintf("placeholder of secret %s sent by sandbox %s to %s, outside its egress hosts: %s", secret, e.SandboxID, e.Host, e.Outcome)
	case "reflection":
		a.Message = fmt.Sprintf("%s reflected the value of secret %s to sandbox %s: replaced by the placeholder", e.Host, secret, e.SandboxID)
	default:
		a.Message = fmt.Sprintf("%s: placeholder of secret %s from sandbox %s towards %s: %s", e.Alert, secret, e.SandboxID, e.Host, e.Outcome)
	}
	if e.PlaceholderSandboxID != "" && e.Alert != "foreign_sandbox" {
		a.Message += " (the placeholder is sandbox " + e.PlaceholderSandboxID + "'s)"
	}
	return a, true
}

// MatchEgress reports whether f selects e. A sandbox filter selects both
// the sandbox that sent the request and the one whose placeholder it was.
func (f Filter) MatchEgress(e EgressEvent) bool {
	if f.SecretID != "" && e.SecretID != f.SecretID {
		return false
	}
	if f.SandboxID != "" && e.PlaceholderSandboxID == f.SandboxID {
		f.SandboxID = ""
	}
	if f.HMAC != "" {
		return false // egressd's log holds no HMAC'd value
	}
	return f.common(e.Time, e.UserID, e.RuntimeID, e.SandboxID, e.RequestID, nil)
}
