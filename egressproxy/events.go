package egressproxy

import (
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/acme/secretsbroker/broker"
)

// Alert kinds (the "alert" field of an alert line and the kind label of
// egressd_alerts_total).
const (
	AlertWrongHost      = "wrong_host"           // a placeholder towards a host outside its secret's hosts: refused
	AlertForeignSandbox = "foreign_sandbox"      // another sandbox's placeholder: refused
	AlertQuery          = "placeholder_in_query" // in a URL query: not substituted
	AlertBody           = "placeholder_in_body"  // in a request body: not substituted
	AlertPlainHTTP      = "plain_http"           // in a plain-HTTP request: refused
	AlertReflection     = "reflection"           // a value in an answer: replaced by its placeholder
	AlertPrefixMismatch = "prefix_mismatch"      // a token without its visible prefix: not substituted
)

// AlertKinds lists every alert kind.
func AlertKinds() []string {
	return []string{AlertWrongHost, AlertForeignSandbox, AlertQuery, AlertBody, AlertPlainHTTP, AlertReflection, AlertPrefixMismatch}
}

// Event names of the log lines brokerctl audit reads (the "event" field).
const (
	EventSubstitution = "egress_substitution"
	EventAlert        = "egress_alert"
	EventRequest      = "egress_request"
)

// reqInfo is what every log line of one proxied request names.
type reqInfo struct {
	id      string
	sandbox broker.SandboxEgress
	host    string
	method  string
	path    string
	kind    string // connect, tunnel, intercepted, plain
}

// finding is one substitution or alert of a request, logged once the
// answer is known.
type finding struct {
	alert        string // "" for a substitution
	secretID     string
	userID       string
	ownerSandbox string // the placeholder's own sandbox, when it is another
	detail       string
}

// emit writes one line per finding (and counts them), with the request's
// status and the bytes sent to the sandbox.
func (p *Proxy) emit(ri *reqInfo, fs []finding, status int, bytes int64) {
	for _, f := range fs {
		ev := p.log.Info()
		name := EventSubstitution
		if f.alert != "" {
			ev = p.log.Warn()
			name = EventAlert
			p.metrics.alerts.WithLabelValues(f.alert).Inc()
		} else {
			p.metrics.substitutions.Inc()
		}
		ev = ev.Str("event", name).Str("request_id", ri.id).
			Str("sandbox_id", ri.sandbox.SandboxID).Str("runtime_id", ri.sandbox.RuntimeID).Str("user_id", ri.sandbox.UserID).
			Str("secret_id", f.secretID).Str("host", ri.host).Str("method", ri.method).Str("path", ri.path).
			Int("status", status).Int64("bytes", bytes)
		if f.alert != "" {
			ev = ev.Str("alert", f.alert).Str("outcome", alertOutcome(f.alert, status))
		} else {
			ev = ev.Str("outcome", "substituted")
		}
		if f.ownerSandbox != "" {
			ev = ev.Str("placeholder_sandbox_id", f.ownerSandbox).Str("placeholder_user_id", f.userID)
		}
		if f.detail != "" {
			ev = ev.Str("detail", f.detail)
		}
		ev.Msg(name)
	}
}

func alertOutcome(kind string, status int) string {
	switch {
	case status == http.StatusForbidden:
		return "refused"
	case kind == AlertReflection:
		return "redacted"
	default:
		return "not_substituted"
	}
}

// logRequest writes the request's own line (every request, debug for
// tunnels' bytes and the like is not needed: one line at info).
func (p *Proxy) logRequest(ri *reqInfo, status int, bytes int64, outcome string, started time.Time, reason string) {
	p.metrics.requests.WithLabelValues(ri.kind, outcome).Inc()
	var ev *zerolog.Event
	if outcome == "ok" {
		ev = p.log.Info()
	} else {
		ev = p.log.Warn()
	}
	ev = ev.Str("event", EventRequest).Str("request_id", ri.id).Str("kind", ri.kind).
		Str("sandbox_id", ri.sandbox.SandboxID).Str("runtime_id", ri.sandbox.RuntimeID).Str("user_id", ri.sandbox.UserID).
		Str("host", ri.host).Str("method", ri.method).Str("path", ri.path).
		Int("status", status).Int64("bytes", bytes).Str("outcome", outcome).Dur("duration", time.Since(started))
	if reason != "" {
		ev = ev.Str("reason", reason)
	}
	ev.Msg(EventRequest)
}
