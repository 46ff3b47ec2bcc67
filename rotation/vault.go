package rotation

import (
	"context"
	"time"

	"github.com/rs/zerolog"
)

// Rotator runs the workflow over one Vault.
type Rotator struct {
	v   Vault
	log zerolog.Logger
}

// New returns a Rotator over v, logging its warnings (secrets skipped or
// left for a later run; never a value) to log.
func New(v Vault, log zerolog.Logger) *Rotator {
	return &Rotator{v: v, log: log.With().Str("component", "rotation").Logger()}
}

// Vault is what the workflow needs of Vault. *vaultx.Client implements it
// with the operator's token (allowed to manage the transit key).
// Errors are coded *broker.Error values; each method says which.
type Vault interface {
	// KeyInfo reads the transit key's versions.
	// Errors: not_found, forbidden, unavailable, internal.
	KeyInfo(ctx context.Context) (KeyInfo, error)
	// SetMinDecryptionVersion sets the key's min_decryption_version, with
	// no safety check. Errors: invalid, not_found, forbidden, unavailable, internal.
	SetMinDecryptionVersion(ctx context.Context, v int) error
	// Target names the KV mount and the transit key worked on.
	Target() Target
	// CallTimeout bounds one Vault call.
	CallTimeout() time.Duration

	// UserIDs lists the users that have a folder, sorted.
	// Errors: forbidden, unavailable, internal.
	UserIDs(ctx context.Context) ([]string, error)
	// SecretIDs lists a user's secret ids. Errors: invalid, forbidden, unavailable, internal.
	SecretIDs(ctx context.Context, userID string) ([]string, error)
	// ReadCurrent reads a secret's current version.
	// Errors: not_found (deleted meanwhile), forbidden, unavailable, internal.
	ReadCurrent(ctx context.Context, userID, secretID string) (Current, error)
	// RewrapBatch rewraps ciphertexts of userID to the key's latest version
	// in one transit call; out[i] is "" when transit refused item i.
	// Errors: forbidden, unavailable, internal.
	RewrapBatch(ctx context.Context, userID string, cts []string) ([]string, error)
	// WriteRewrapped stores ct as the secret's next version with
	// check-and-set on cur.Version (cur's data otherwise unchanged, marked
	// rewrapped) and points the secret's metadata at it.
	// Errors: conflict (the check-and-set was lost to another writer),
	// forbidden, unavailable, internal.
	WriteRewrapped(ctx context.Context, userID, secretID string, cur Current, ct string) error
	// LiveVersions reads every live (neither deleted nor destroyed) version
	// of a secret; none for a secret deleted meanwhile.
	// Errors: forbidden, unavailable, internal.
	LiveVersions(ctx context.Context, userID, secretID string) ([]StoredVersion, error)
}

// KeyInfo describes the broker's transit key.
type KeyInfo struct {
	Name                 string
	Type                 string
	Derived              bool
	LatestVersion        int
	MinDecryptionVersion int
	MinEncryptionVersion int // 0: the latest
}

// Target is where the workflow works: it names the checkpoint file's target.
type Target struct {
	KVMount, TransitMount, TransitKey string
}

// Current is a secret's current version as ReadCurrent found it.
type Current struct {
	Version    int    // the KV version read: WriteRewrapped's check-and-set value
	KeyVersion int    // the transit key version of Ciphertext; 0: not a transit ciphertext
	Ciphertext string // never a plaintext
	// Data is the version's stored data, whole and opaque to the workflow:
	// WriteRewrapped writes it back with the new ciphertext.
	Data map[string]any
}

// StoredVersion is one live version of a secret, as the scan counts it.
type StoredVersion struct {
	KeyVersion  int // 0: no transit ciphertext
	Fingerprint string
	Current     bool
}
