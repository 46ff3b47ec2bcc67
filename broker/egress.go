package broker

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Egress delivery (docs/design.md, "Egress delivery"): a sandbox provisioned
// with delivery "egress" gets a placeholder instead of each value, and
// egressd swaps the placeholder for the value on requests to the hosts the
// secret belongs to. This file is the contract between the broker, which
// writes the placeholders and their records, and egressd, which reads them.

// Delivery modes of a provisioning request.
const (
	DeliveryEnv    = "env"    // values in the sandbox's environment (the default)
	DeliveryEgress = "egress" // placeholders in the environment, values added by egressd
)

// PlaceholderMarker stands in every placeholder, between the value's visible
// prefix and the random part, so that egressd finds placeholders anywhere
// (any header, query or body) and recognises one of another sandbox.
const PlaceholderMarker = "bph_"

// placeholderRandom is the length of a placeholder's random part: 32
// base62 characters, about 190 bits. Find accepts at least
// PlaceholderMinRandom of them.
const (
	placeholderRandom    = 32
	PlaceholderMinRandom = 22
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// EgressCAKey is the reserved bundle key under which an egress bundle
// carries the egress CA certificate (PEM, not secret); sandbox-init writes
// it to a CA bundle file instead of exporting it.
const EgressCAKey = "BROKER_EGRESS_CA_PEM"

// Placeholder is what an egress sandbox holds instead of a value: Prefix
// (the value's start that masked_value already shows, so SDKs that check a
// key's prefix accept it) followed by Token (PlaceholderMarker and the
// random part). Records are keyed by the hash of Token alone.
type Placeholder struct {
	Prefix string
	Token  string
}

// String is the placeholder as the sandbox sees it.
func (p Placeholder) String() string { return p.Prefix + p.Token }

// NewPlaceholder returns a fresh placeholder with the given visible prefix.
// Errors: internal (no randomness).
func NewPlaceholder(prefix string) (Placeholder, error) {
	r, err := randomBase62(placeholderRandom)
	if err != nil {
		return Placeholder{}, err
	}
	return Placeholder{Prefix: prefix, Token: PlaceholderMarker + r}, nil
}

// NewProxyCredential returns a fresh per-sandbox proxy password (32 base62
// characters). Only its CredentialHash is stored. Errors: internal.
func NewProxyCredential() (string, error) { return randomBase62(placeholderRandom) }

func randomBase62(n int) (string, error) {
	b := make([]byte, n)
	// Rejection sampling keeps every character equally likely.
	buf := make([]byte, n*2)
	for i := 0; i < n; {
		if _, err := rand.Read(buf); err != nil {
			return "", WithCode(CodeInternal, err, "no randomness")
		}
		for _, c := range buf {
			if c < 248 && i < n { // 248 = 4 * 62
				b[i] = base62[c%62]
				i++
			}
		}
	}
	return string(b), nil
}

// PlaceholderMatch is the byte range [Start, End) of a placeholder token
// (marker and random part, without the prefix) in a text.
type PlaceholderMatch struct{ Start, End int }

// FindPlaceholders returns every placeholder token in b: the marker followed
// by at least PlaceholderMinRandom base62 characters. It does not allocate
// when there is none.
func FindPlaceholders(b []byte) []PlaceholderMatch {
	var out []PlaceholderMatch
	for i := 0; i+len(PlaceholderMarker) <= len(b); {
		j := indexMarker(b[i:])
		if j < 0 {
			break
		}
		start := i + j
		end := start + len(PlaceholderMarker)
		for end < len(b) && isBase62(b[end]) {
			end++
		}
		if end-start-len(PlaceholderMarker) < PlaceholderMinRandom {
			i = start + 1 // another marker may start inside this one's tail
			continue
		}
		out = append(out, PlaceholderMatch{Start: start, End: end})
		i = end
	}
	return out
}

func indexMarker(b []byte) int {
	for i := 0; i+len(PlaceholderMarker) <= len(b); i++ {
		if string(b[i:i+len(PlaceholderMarker)]) == PlaceholderMarker {
			return i
		}
	}
	return -1
}

func isBase62(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}

// TokenHash is the SHA-256 hex of a placeholder token: the key of its
// PlaceholderRecord (layout.EgressPlaceholderPath).
func TokenHash(token string) string { return sha256Hex(token) }

// CredentialHash is the SHA-256 hex of a proxy credential, as stored in a
// SandboxEgress record.
func CredentialHash(cred string) string { return sha256Hex(cred) }

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// SandboxEgress is egressd's record of one egress sandbox
// (layout.EgressSandboxPath): who it is, how it authenticates, until when,
// and the hosts its placeholders may go to (the union of its secrets'
// egress_hosts, which decides which CONNECTs are intercepted).
type SandboxEgress struct {
	SandboxID      string    `json:"sandbox_id"`
	RuntimeID      string    `json:"runtime_id"`
	UserID         string    `json:"user_id"`
	CredentialHash string    `json:"credential_hash"`
	Hosts          []string  `json:"hosts"`
	ExpiresAt      time.Time `json:"expires_at"`
}

// PlaceholderRecord is egressd's record of one placeholder
// (layout.EgressPlaceholderPath of its TokenHash): whose it is, which secret
// it stands for, and where it may go.
type PlaceholderRecord struct {
	SandboxID string   `json:"sandbox_id"`
	UserID    string   `json:"user_id"`
	SecretID  string   `json:"secret_id"`
	Prefix    string   `json:"prefix"`
	Hosts     []string `json:"hosts"`
}
