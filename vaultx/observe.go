package vaultx

import (
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/acme/secretsbroker/layout"
)

// ObserveFunc receives one Vault call: a fixed operation name (never a path
// with ids in it), its latency, and its transport error or an error for a
// 5xx answer.
type ObserveFunc func(operation string, d time.Duration, err error)

// countingTransport counts and times requests sent to Vault.
type countingTransport struct {
	next    http.RoundTripper
	n       *atomic.Uint64
	observe ObserveFunc
	kv      string
	transit string
}

func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if t.n != nil {
		t.n.Add(1)
	}
	if t.observe == nil {
		return t.next.RoundTrip(r)
	}
	start := time.Now()
	res, err := t.next.RoundTrip(r)
	oerr := err
	if err == nil && res.StatusCode >= 500 {
		oerr = errServerStatus
	}
	t.observe(t.operation(r), time.Since(start), oerr)
	return res, err
}

type statusError string

func (e statusError) Error() string { return string(e) }

const errServerStatus = statusError("vault answered 5xx")

// operation names a request by what it does, from a fixed set.
func (t *countingTransport) operation(r *http.Request) string {
	p := strings.TrimPrefix(r.URL.Path, "/v1/")
	m := r.Method
	if m == "LIST" || r.URL.Query().Get("list") == "true" {
		m = "LIST"
	}
	switch {
	case strings.HasPrefix(p, layout.DataPath(t.kv, "")):
		if r.Header.Get("X-Vault-Wrap-TTL") != "" {
			return "kv_wrapped_read"
		}
		if m == http.MethodGet {
			return "kv_read"
		}
		return "kv_write"
	case strings.HasPrefix(p, layout.MetadataPath(t.kv, "")):
		switch m {
		case "LIST":
			return "kv_list"
		case http.MethodGet:
			return "kv_metadata_read"
		case http.MethodDelete:
			return "kv_delete"
		}
		return "kv_metadata_write"
	case strings.HasPrefix(p, t.transit+"/"):
		op, _, _ := strings.Cut(strings.TrimPrefix(p, t.transit+"/"), "/")
		switch op {
		case "encrypt", "decrypt", "hmac", "rewrap", "keys":
			return "transit_" + op
		}
		return "transit_other"
	case p == "auth/token/revoke-accessor":
		return "revoke_accessor"
	case strings.HasPrefix(p, "auth/") && strings.HasSuffix(p, "/login"):
		return "login"
	case p == "auth/token/renew-self":
		return "renew_self"
	case p == "auth/token/lookup-self":
		return "lookup_self"
	case p == "sys/health":
		return "health"
	case strings.HasPrefix(p, "sys/wrapping/"):
		return "wrapping_" + strings.TrimPrefix(p, "sys/wrapping/")
	}
	return "other"
}
