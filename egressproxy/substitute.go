package egressproxy

import (
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/acme/secretsbroker/broker"
)

// sub is what one placeholder token is replaced by: the visible prefix that
// must precede the token, and the value that replaces prefix and token.
type sub struct {
	prefix   string
	value    string
	secretID string // whose value it is (for findings)
}

// tokensIn appends the placeholder tokens of s to out (duplicates kept).
func tokensIn(out []string, s string) []string {
	for _, m := range broker.FindPlaceholders([]byte(s)) {
		out = append(out, s[m.Start:m.End])
	}
	return out
}

// headerTokens returns every placeholder token in the values of h, also
// those inside an Authorization: Basic credential, each once, in order.
func headerTokens(h http.Header) []string {
	var all []string
	for name, vs := range h {
		for _, v := range vs {
			all = tokensIn(all, v)
			if dec, ok := basicCredential(name, v); ok {
				all = tokensIn(all, dec)
			}
		}
	}
	return dedupe(all)
}

func dedupe(in []string) []string {
	if len(in) < 2 {
		return in
	}
	seen := make(map[string]bool, len(in))
	out := in[:0]
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// basicCredential returns the decoded credential of an "Authorization:
// Basic <base64>" value.
func basicCredential(name, v string) (string, bool) {
	if !strings.EqualFold(name, "Authorization") {
		return "", false
	}
	scheme, cred, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return "", false
	}
	cred = strings.TrimSpace(cred)
	b, err := base64.StdEncoding.DecodeString(cred)
	if err != nil {
		if b, err = base64.RawStdEncoding.DecodeString(cred); err != nil {
			return "", false
		}
	}
	return string(b), true
}

// replaceTokens replaces, in s, each token of subs preceded by its prefix
// (prefix and token together) by its value. It returns the result, the
// tokens replaced and those found without their prefix (left as they are).
func replaceTokens(s string, subs map[string]sub) (out string, used, unprefixed []string) {
	ms := broker.FindPlaceholders([]byte(s))
	if len(ms) == 0 {
		return s, nil, nil
	}
	var b strings.Builder
	last := 0
	for _, m := range ms {
		tok := s[m.Start:m.End]
		r, ok := subs[tok]
		if !ok {
			continue
		}
		start := m.Start - len(r.prefix)
		if start < last || s[start:m.Start] != r.prefix {
			unprefixed = append(unprefixed, tok)
			continue
		}
		b.WriteString(s[last:start])
		b.WriteString(r.value)
		last = m.End
		used = append(used, tok)
	}
	if used == nil {
		return s, nil, unprefixed
	}
	b.WriteString(s[last:])
	return b.String(), used, unprefixed
}

// substituteHeader replaces the placeholders of one header value; inside
// an Authorization: Basic credential it decodes, replaces and re-encodes.
func substituteHeader(name, v string, subs map[string]sub) (out string, used, unprefixed []string) {
	if dec, ok := basicCredential(name, v); ok {
		if rep, u, np := replaceTokens(dec, subs); u != nil || np != nil {
			scheme, _, _ := strings.Cut(strings.TrimSpace(v), " ")
			if u != nil {
				v = scheme + " " + base64.StdEncoding.EncodeToString([]byte(rep))
			}
			used, unprefixed = u, np
		}
	}
	out, u, np := replaceTokens(v, subs)
	return out, append(used, u...), append(unprefixed, np...)
}

// substituteHeaders replaces the placeholders in every value of h, in
// place, and returns the tokens replaced and those left without prefix.
func substituteHeaders(h http.Header, subs map[string]sub) (used, unprefixed []string) {
	for name, vs := range h {
		for i, v := range vs {
			out, u, np := substituteHeader(name, v, subs)
			vs[i] = out
			used, unprefixed = append(used, u...), append(unprefixed, np...)
		}
	}
	return dedupe(used), dedupe(unprefixed)
}

// validHeaderValue reports whether v may be sent as a header value (no
// control characters but tab): a value holding a newline would otherwise
// let a secret inject headers.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
