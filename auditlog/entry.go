package auditlog

import (
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/acme/secretsbroker/layout"
)

// Audited request headers the broker sends with every Vault call (lower case,
// as Vault logs them).
const (
	HeaderUser      = "x-broker-user"
	HeaderRequestID = "x-request-id"
	HeaderRuntime   = "x-broker-runtime"
	HeaderSandbox   = "x-broker-sandbox"
)

// Outcomes.
const (
	OutcomeOK    = "ok"
	OutcomeError = "error"
)

// ViaToken is Entry.Via for calls made with (or about) a bootstrap token:
// their user, request, runtime and sandbox are those of the wrapped read
// that minted the token.
const ViaToken = "bootstrap token"

// Entry is one Vault call: a request entry paired with its response entry.
type Entry struct {
	Time time.Time `json:"time"`
	// Action is what the broker request this call belongs to did (all calls
	// sharing an X-Request-Id get the highest-ranked action among them);
	// Call is this call's own classification.
	Action    Action `json:"action"`
	Call      Action `json:"call"`
	Operation string `json:"operation"`
	Path      string `json:"path"`
	Outcome   string `json:"outcome"`         // OutcomeOK or OutcomeError
	Error     string `json:"error,omitempty"` // Vault's error, one line

	User      string `json:"user,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	RuntimeID string `json:"runtime_id,omitempty"`
	SandboxID string `json:"sandbox_id,omitempty"`
	SecretID  string `json:"secret_id,omitempty"`
	// Via is ViaToken when User, RequestID, RuntimeID and SandboxID come
	// from the wrapped read that minted the token this call used.
	Via string `json:"via,omitempty"`

	DisplayName    string `json:"display_name,omitempty"` // Vault token's display name
	RemoteAddress  string `json:"remote_address,omitempty"`
	VaultRequestID string `json:"vault_request_id"`
	DurationMS     int64  `json:"duration_ms,omitempty"`
	// NoResponse is set when Vault logged no response entry (calls refused
	// before routing, such as an unwrap of an unknown token).
	NoResponse bool `json:"no_response,omitempty"`
	// Wrapped describes the bootstrap token a wrapped read minted.
	Wrapped *Wrapped `json:"wrapped,omitempty"`

	// HMACs are the HMAC'd values of the request and response entries
	// (plus, for calls linked to a bootstrap token, its token and accessor).
	HMACs []string `json:"-"`

	// link keys: the HMAC'd token or accessor this call used or named.
	tokenHMAC, accessorHMAC string
	// wrapTokenHMAC is the HMAC'd token a wrapped read minted.
	wrapTokenHMAC string
	// hdrRequestID is the X-Request-Id header itself (RequestID may be
	// inherited through a token).
	hdrRequestID string
	arrived      time.Time
}

// Wrapped describes a response-wrapping token.
type Wrapped struct {
	Accessor     string    `json:"accessor"` // HMAC'd
	CreationPath string    `json:"creation_path"`
	TTLSeconds   int64     `json:"ttl_seconds"`
	ExpiresAt    time.Time `json:"expires_at"`
}

// Failed reports whether Vault answered the call with an error.
func (e *Entry) Failed() bool { return e.Outcome != OutcomeOK }

// newEntry builds an entry from the response record resp and/or the request
// record req (either may be nil, not both).
func newEntry(req, resp *Record, m Mounts) Entry {
	r := resp
	if r == nil {
		r = req
	}
	e := Entry{
		Time:           r.Time,
		Operation:      r.Req.Operation,
		Path:           r.Req.Path,
		VaultRequestID: r.Req.ID,
		RemoteAddress:  r.Req.RemoteAddress,
		DisplayName:    r.Auth.DisplayName,
		NoResponse:     resp == nil,
	}
	if req != nil {
		e.Time = req.Time
		if resp != nil && resp.Time.After(req.Time) {
			e.DurationMS = resp.Time.Sub(req.Time).Milliseconds()
		}
	}
	errText := ""
	if resp != nil {
		errText = resp.Error
	}
	if errText == "" && req != nil {
		errText = req.Error
	}
	e.Outcome = OutcomeOK
	if errText != "" {
		e.Outcome, e.Error = OutcomeError, cleanError(errText)
	}
	call, subj := classify(r, m)
	e.Call, e.Action = call, call
	h := r.Req
	e.User = firstNonEmpty(h.Header(HeaderUser), subj.user)
	e.hdrRequestID = h.Header(HeaderRequestID)
	e.RequestID = e.hdrRequestID
	e.RuntimeID = h.Header(HeaderRuntime)
	e.SandboxID = firstNonEmpty(h.Header(HeaderSandbox), subj.sandboxID)
	e.SecretID = subj.secretID
	if resp != nil && resp.Resp != nil && resp.Resp.WrapInfo != nil && resp.Error == "" {
		wi := resp.Resp.WrapInfo
		e.wrapTokenHMAC = wi.Token
		e.Wrapped = &Wrapped{Accessor: wi.Accessor, CreationPath: wi.CreationPath, TTLSeconds: int64(wi.TTL / time.Second)}
		created := wi.CreationTime
		if created.IsZero() {
			created = resp.Time
		}
		e.Wrapped.ExpiresAt = created.Add(wi.TTL)
		if e.SandboxID == "" {
			e.SandboxID = layout.SandboxFromCreationPath(wi.CreationPath)
		}
	}
	switch call {
	case ActionUnwrap:
		e.tokenHMAC = pick(req, resp, func(x *Record) string { return x.Auth.ClientToken })
		e.accessorHMAC = pick(req, resp, func(x *Record) string { return firstNonEmpty(x.Auth.Accessor, x.Req.ClientTokenAccessor) })
	case ActionLookup:
		e.tokenHMAC = r.Req.Data["token"]
	case ActionRevoke:
		e.accessorHMAC = r.Req.Data["accessor"]
	}
	e.HMACs = mergeHMACs(req, resp)
	return e
}

func pick(req, resp *Record, f func(*Record) string) string {
	for _, r := range []*Record{resp, req} {
		if r != nil {
			if s := f(r); s != "" {
				return s
			}
		}
	}
	return ""
}

func mergeHMACs(recs ...*Record) []string {
	var out []string
	for _, r := range recs {
		if r == nil {
			continue
		}
		for _, h := range r.HMACs {
			if !slices.Contains(out, h) {
				out = append(out, h)
			}
		}
	}
	return out
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

var multiErrItem = regexp.MustCompile(`(?m)^\s*\*\s*(.+?)\s*$`)

// cleanError makes Vault's error one line: the items of a multierror
// ("1 error occurred:\n\t* permission denied\n\n") joined by "; ".
func cleanError(s string) string {
	if strings.Contains(s, "occurred:") {
		if items := multiErrItem.FindAllStringSubmatch(s, -1); len(items) > 0 {
			parts := make([]string, len(items))
			for i, it := range items {
				parts[i] = it[1]
			}
			s = strings.Join(parts, "; ")
		}
	}
	return strings.Join(strings.Fields(s), " ")
}
