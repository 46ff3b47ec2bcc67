package broker

import (
	"net/netip"
	"strings"
)

// MaxEgressHosts bounds the egress_hosts of one secret.
const MaxEgressHosts = 20

// DefaultEgressHosts are the presets' default egress hosts.
func DefaultEgressHosts(provider string) []string {
	switch provider {
	case "openai":
		return []string{"api.openai.com"}
	case "anthropic":
		return []string{"api.anthropic.com"}
	case "github":
		return []string{"api.github.com", "github.com", "uploads.github.com"}
	}
	return nil
}

// CheckEgressHost says what is wrong with an egress host pattern, or "" when
// it is valid: a lower-case DNS name of at least two labels, or "*." and
// such a name (a wildcard for exactly one label). No IP address, no port, no
// trailing dot.
func CheckEgressHost(p string) string {
	name := strings.TrimPrefix(p, "*.")
	switch {
	case p == "":
		return "must not be empty"
	case len(p) > 253:
		return "must be at most 253 characters"
	case strings.Contains(name, "*"):
		return "a wildcard may only be a leading \"*.\""
	case strings.ContainsAny(p, ":/[]@ "):
		return "must be a host name: no port, scheme, path or address"
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return "must be a host name, not an IP address"
	}
	labels := strings.Split(name, ".")
	if len(labels) < 2 {
		return "must have at least two labels (example.com)"
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return "must be a valid DNS name"
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return "must be a lower-case DNS name (a-z, 0-9, -)"
			}
		}
	}
	if isNumeric(labels[len(labels)-1]) {
		return "must be a host name, not an IP address"
	}
	return ""
}

func isNumeric(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// MatchEgressHost reports whether host (a request's host name, any case,
// without port) matches pattern: exactly, or for "*.example.com" any name
// with exactly one more label (a.example.com, not example.com nor
// a.b.example.com).
func MatchEgressHost(pattern, host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if rest, ok := strings.CutPrefix(pattern, "*."); ok {
		label, parent, found := strings.Cut(host, ".")
		return found && label != "" && parent == rest
	}
	return host == pattern
}

// EgressHostAllowed reports whether host matches any of patterns.
func EgressHostAllowed(patterns []string, host string) bool {
	for _, p := range patterns {
		if MatchEgressHost(p, host) {
			return true
		}
	}
	return false
}
