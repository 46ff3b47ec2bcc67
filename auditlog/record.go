package auditlog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrMalformed is wrapped by every ParseLine error.
var ErrMalformed = errors.New("malformed audit log line")

// HMACPrefix starts every value an audit device obfuscated.
const HMACPrefix = "hmac-sha256:"

// Record is one line of a Vault file audit log: a "request" entry, written
// before Vault handles the call, or a "response" entry, written after it
// (it repeats the request and auth parts).
type Record struct {
	Type  string // "request" or "response"
	Time  time.Time
	Error string // Vault's error, as logged
	Auth  Auth
	Req   Request
	// Resp is the response part; nil on request entries.
	Resp *Response
	// HMACs are the distinct HMAC'd values anywhere in the line
	// ("hmac-sha256:<hex>"), for matching a known value's audit hash.
	HMACs []string
}

// Auth is the token that made the call, as Vault saw it.
type Auth struct {
	Accessor    string // HMAC'd unless the device logs accessors in clear
	ClientToken string // HMAC'd
	DisplayName string
	Policies    []string
	Metadata    map[string]string
}

// Request is the request part of an entry.
type Request struct {
	ID                  string
	Operation           string
	Path                string
	MountPoint          string // e.g. "broker/"
	MountType           string // e.g. "kv", "transit", "system", "token"
	RemoteAddress       string
	ClientToken         string // HMAC'd
	ClientTokenAccessor string // HMAC'd
	// Headers are the audited request headers, by lower-case name.
	Headers map[string][]string
	WrapTTL time.Duration
	// Data holds the request's top-level string fields (HMAC'd by default).
	Data map[string]string
}

// Header returns the first value of the audited header name (any case).
func (r Request) Header(name string) string {
	if vs := r.Headers[strings.ToLower(name)]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// Response is the response part of a response entry.
type Response struct {
	// Version is data.version when it is a number (KV v2 writes), else 0.
	Version  int
	WrapInfo *WrapInfo
}

// WrapInfo describes a response-wrapping token minted by the call.
type WrapInfo struct {
	Accessor     string // HMAC'd
	Token        string // HMAC'd
	CreationPath string
	CreationTime time.Time
	TTL          time.Duration
}

// ParseLine parses one audit log line. Blank lines, lines that are not one
// JSON object, and objects that are not a request or response entry with a
// valid time fail with an error wrapping ErrMalformed.
func ParseLine(line []byte) (Record, error) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return Record{}, fmt.Errorf("%w: empty", ErrMalformed)
	}
	if line[0] != '{' {
		return Record{}, fmt.Errorf("%w: not a JSON object", ErrMalformed)
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return Record{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(bytes.TrimSpace(line[dec.InputOffset():])) > 0 {
		return Record{}, fmt.Errorf("%w: data after the JSON object", ErrMalformed)
	}
	var r Record
	r.Type = str(m["type"])
	if r.Type != "request" && r.Type != "response" {
		return Record{}, fmt.Errorf("%w: type %q is neither request nor response", ErrMalformed, clip(r.Type))
	}
	t, err := time.Parse(time.RFC3339Nano, str(m["time"]))
	if err != nil {
		return Record{}, fmt.Errorf("%w: bad time", ErrMalformed)
	}
	r.Time = t
	req, ok := m["request"].(map[string]any)
	if !ok {
		return Record{}, fmt.Errorf("%w: no request object", ErrMalformed)
	}
	r.Error = str(m["error"])
	r.Req = parseRequest(req)
	if a, ok := m["auth"].(map[string]any); ok {
		r.Auth = Auth{
			Accessor:    str(a["accessor"]),
			ClientToken: str(a["client_token"]),
			DisplayName: str(a["display_name"]),
			Policies:    strs(a["policies"]),
			Metadata:    strMap(a["metadata"]),
		}
	}
	if r.Type == "response" {
		r.Resp = &Response{}
		if resp, ok := m["response"].(map[string]any); ok {
			r.Resp = parseResponse(resp)
		}
	}
	r.HMACs = scanHMACs(line)
	return r, nil
}

func parseRequest(req map[string]any) Request {
	r := Request{
		ID:                  str(req["id"]),
		Operation:           str(req["operation"]),
		Path:                str(req["path"]),
		MountPoint:          str(req["mount_point"]),
		MountType:           str(req["mount_type"]),
		RemoteAddress:       str(req["remote_address"]),
		ClientToken:         str(req["client_token"]),
		ClientTokenAccessor: str(req["client_token_accessor"]),
	}
	if h, ok := req["headers"].(map[string]any); ok {
		r.Headers = make(map[string][]string, len(h))
		for k, v := range h {
			if vs := strs(v); len(vs) > 0 {
				r.Headers[strings.ToLower(k)] = vs
			} else if s := str(v); s != "" {
				r.Headers[strings.ToLower(k)] = []string{s}
			}
		}
	}
	if n, ok := num(req["wrap_ttl"]); ok && n > 0 && n < 1e9 {
		r.WrapTTL = time.Duration(n) * time.Second
	}
	r.Data = strMap(req["data"])
	return r
}

func parseResponse(resp map[string]any) *Response {
	out := &Response{}
	if d, ok := resp["data"].(map[string]any); ok {
		if n, ok := num(d["version"]); ok && n >= 0 && n < 1e9 {
			out.Version = int(n)
		}
	}
	if w, ok := resp["wrap_info"].(map[string]any); ok {
		wi := &WrapInfo{
			Accessor:     str(w["accessor"]),
			Token:        str(w["token"]),
			CreationPath: str(w["creation_path"]),
		}
		if t, err := time.Parse(time.RFC3339Nano, str(w["creation_time"])); err == nil {
			wi.CreationTime = t
		}
		if n, ok := num(w["ttl"]); ok && n > 0 && n < 1e9 {
			wi.TTL = time.Duration(n) * time.Second
		}
		out.WrapInfo = wi
	}
	return out
}

// str returns v when it is a string, else "".
func str(v any) string {
	s, _ := v.(string)
	return s
}

// num returns v as a number when it is a JSON number or a numeric string.
func num(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(x, 64)
		return f, err == nil
	}
	return 0, false
}

func strs(v any) []string {
	a, ok := v.([]any)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(a))
	for _, x := range a {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func strMap(v any) map[string]string {
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, x := range m {
		if s, ok := x.(string); ok {
			out[k] = s
		}
	}
	return out
}

// scanHMACs returns the distinct "hmac-sha256:<hex>" values in line.
func scanHMACs(line []byte) []string {
	var out []string
	seen := map[string]bool{}
	prefix := []byte(HMACPrefix)
	for {
		i := bytes.Index(line, prefix)
		if i < 0 {
			return out
		}
		j := i + len(prefix)
		for j < len(line) && isHex(line[j]) {
			j++
		}
		if j > i+len(prefix) {
			h := string(line[i:j])
			if !seen[h] {
				seen[h] = true
				out = append(out, h)
			}
		}
		line = line[j:]
	}
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
