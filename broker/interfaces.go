package broker

import (
	"context"
	"time"
)

// SecretWrite is one version of a secret as the store persists it: the value
// only as transit ciphertext, the rest as metadata.
type SecretWrite struct {
	UserID      string
	SecretID    string
	Name        string
	Provider    *string
	Ciphertext  string
	MaskedValue string
	Fingerprint string
	// EgressHosts are kept in the secret's metadata, not in the version:
	// changing them alone makes no new version (SetEgressHosts).
	EgressHosts []string
}

// SecretStore keeps secrets under per-user paths (Vault KV v2 in production:
// users/<user>/secrets/<id> and users/<user>/names/<NAME>). Implemented by vaultx.
type SecretStore interface {
	// ReserveName binds name to secretID atomically (KV cas=0). Names that
	// differ only in letter case are one name (the index key is upper-cased).
	// Errors: conflict when the name is already bound, unavailable, internal.
	ReserveName(ctx context.Context, userID, name, secretID string) error
	// NameOwner returns the secret id bound to name and the index entry's KV
	// version and creation time. Errors: not_found, unavailable, internal.
	NameOwner(ctx context.Context, userID, name string) (NameEntry, error)
	// RebindName moves a name whose secret no longer exists to secretID, with
	// check-and-set on entry.Version. Errors: conflict, unavailable, internal.
	RebindName(ctx context.Context, userID, name, secretID string, entry NameEntry) error
	// ReleaseName removes the name index entry. Absent is not an error.
	// Errors: unavailable, internal.
	ReleaseName(ctx context.Context, userID, name string) error

	// CreateSecret writes version 1 (cas=0). Errors: conflict, unavailable, internal.
	CreateSecret(ctx context.Context, w SecretWrite) (Secret, error)
	// UpdateSecret writes a new version with check-and-set on casVersion.
	// Errors: conflict (another writer got there first), not_found, unavailable, internal.
	UpdateSecret(ctx context.Context, w SecretWrite, casVersion int) (Secret, error)
	// GetSecret reads metadata only, never the value. Errors: not_found, unavailable, internal.
	GetSecret(ctx context.Context, userID, secretID string) (Secret, error)
	// ListSecrets reads every secret's metadata (concurrently), never a value.
	// Errors: unavailable, internal.
	ListSecrets(ctx context.Context, userID string) ([]Secret, error)
	// CountSecrets returns how many secrets the user has. Errors: unavailable, internal.
	CountSecrets(ctx context.Context, userID string) (int, error)
	// Ciphertexts returns the current ciphertext of each id, in order, read
	// concurrently. Errors: not_found if any id is absent, unavailable, internal.
	Ciphertexts(ctx context.Context, userID string, secretIDs []string) ([]string, error)
	// Versions lists the stored versions, oldest first. Errors: not_found, unavailable, internal.
	Versions(ctx context.Context, userID, secretID string) ([]SecretVersion, error)
	// VersionCiphertext returns the ciphertext of one version.
	// Errors: not_found (absent, deleted or destroyed), unavailable, internal.
	VersionCiphertext(ctx context.Context, userID, secretID string, version int) (string, error)
	// DeleteSecret removes every version and the metadata. Errors: not_found, unavailable, internal.
	DeleteSecret(ctx context.Context, userID, secretID string) error
	// SetEgressHosts replaces the secret's egress_hosts in its metadata,
	// writing no new version. Errors: not_found, unavailable, internal.
	SetEgressHosts(ctx context.Context, userID, secretID string, hosts []string) (Secret, error)
}

// EgressStore keeps egressd's records of egress sandboxes (Vault KV
// egress/sandboxes/<id> and egress/placeholders/<token hash>; the data of
// each is the JSON object of SandboxEgress or PlaceholderRecord).
// Implemented by vaultx.
type EgressStore interface {
	// PutEgress writes the sandbox's record and one record per placeholder
	// (keyed by TokenHash), concurrently; on failure none is left.
	// Errors: invalid, unavailable, internal.
	PutEgress(ctx context.Context, sb SandboxEgress, placeholders map[string]PlaceholderRecord) error
	// DeleteEgress removes them; absent ones are not an error.
	// Errors: invalid, unavailable, internal.
	DeleteEgress(ctx context.Context, sandboxID string, tokenHashes []string) error
}

// NameEntry is a name index entry.
type NameEntry struct {
	SecretID  string
	Version   int
	CreatedAt time.Time
}

// Crypto encrypts and fingerprints values with a key derived per user (Vault
// transit in production). Implemented by vaultx.
type Crypto interface {
	// Encrypt returns ciphertext bound to userID. Errors: unavailable, internal.
	Encrypt(ctx context.Context, userID string, plaintext []byte) (string, error)
	// DecryptBatch decrypts all ciphertexts in one call. Errors: forbidden
	// (ciphertext of another context), unavailable, internal.
	DecryptBatch(ctx context.Context, userID string, ciphertexts []string) ([][]byte, error)
	// Fingerprint returns a keyed hash of the value that tells versions apart
	// without revealing anything. Errors: unavailable, internal.
	Fingerprint(ctx context.Context, userID string, plaintext []byte) (string, error)
}

// Wrapped is a freshly minted bootstrap token.
type Wrapped struct {
	Token        string
	Accessor     string
	CreationPath string
	ExpiresAt    time.Time
}

// Bootstrapper mints single-use bootstrap tokens bound to a sandbox (docs/design.md
// section 5, steps 2-4). Implemented by vaultx.
type Bootstrapper interface {
	// Wrap writes env to sandboxes/<sandboxID>, reads it back wrapped with ttl
	// and destroys the bundle. On any failure nothing is left under sandboxes/
	// and no token lives. Errors: unavailable, internal.
	Wrap(ctx context.Context, sandboxID string, env map[string]string, ttl time.Duration) (Wrapped, error)
	// RevokeAccessor revokes a wrapping token by accessor; an unknown or
	// already used accessor is not an error. Errors: unavailable, internal.
	RevokeAccessor(ctx context.Context, accessor string) error
	// CreationPath is the creation path a token for sandboxID must carry.
	CreationPath(sandboxID string) string
}

// APIKeyStore keeps API keys as SHA-256 hashes (Vault KV apikeys/<hash>).
// Implemented by vaultx.
type APIKeyStore interface {
	// PutAPIKey stores a new key record. Errors: conflict, unavailable, internal.
	PutAPIKey(ctx context.Context, k APIKey) error
	// GetAPIKey looks a key up by hash. Errors: not_found, unavailable, internal.
	GetAPIKey(ctx context.Context, hash string) (APIKey, error)
	// ListAPIKeys lists a user's keys. Errors: unavailable, internal.
	ListAPIKeys(ctx context.Context, userID string) ([]APIKey, error)
	// DeleteAPIKey removes a key. Errors: not_found, unavailable, internal.
	DeleteAPIKey(ctx context.Context, hash string) error
}

// RecordStore keeps runtime and evaluation records and wrapping accessors
// (Redis, or in-process for one replica). It never holds a token or a value.
type RecordStore interface {
	// PutRuntime creates or replaces a runtime record. Errors: unavailable, internal.
	PutRuntime(ctx context.Context, r Runtime) error
	// GetRuntime errors: not_found (absent or another user's), unavailable, internal.
	GetRuntime(ctx context.Context, userID, id string) (Runtime, error)
	// ListRuntimes errors: unavailable, internal.
	ListRuntimes(ctx context.Context, userID string) ([]Runtime, error)
	// DeleteRuntime errors: not_found, unavailable, internal.
	DeleteRuntime(ctx context.Context, userID, id string) error
	// PutEvaluation errors: unavailable, internal.
	PutEvaluation(ctx context.Context, e Evaluation) error
	// GetEvaluation errors: not_found, unavailable, internal.
	GetEvaluation(ctx context.Context, userID, id string) (Evaluation, error)
	// PutAccessor records sandboxID -> wrapping accessor for ttl.
	// Errors: unavailable, internal.
	PutAccessor(ctx context.Context, sandboxID, accessor string, ttl time.Duration) error
	// TakeAccessor returns and forgets the accessor; ok is false when none is
	// recorded (expired or never). Errors: unavailable, internal.
	TakeAccessor(ctx context.Context, sandboxID string) (accessor string, ok bool, err error)
}

// ListCache caches a user's secret list (metadata only, never a value).
//
// Stamps: every user has a stamp (a generation) that each Update and
// Invalidate changes. A reader's Put stores only if the stamp is still the
// one its Get answered, so a list read from the store before a concurrent
// write is never cached after that write's Update or Invalidate. A writer
// reads Stamp before its store write and hands it to Update, which changes
// the cached list in place only if no other Update or Invalidate happened
// in between (and the cached list carries that stamp); otherwise it drops
// the list. A list Get serves therefore reflects every write whose Update
// or Invalidate finished before the Get (docs/design.md, the Redis section).
type ListCache interface {
	// Get answers the cached list sorted by name (hit), and the stamp to
	// hand to Put. Errors: unavailable, internal.
	Get(ctx context.Context, userID string) (secrets []Secret, stamp string, hit bool, err error)
	// Put caches secrets (as read from the store after the Get that
	// answered stamp) unless the stamp changed meanwhile.
	// Errors: unavailable, internal.
	Put(ctx context.Context, userID, stamp string, secrets []Secret) error
	// Stamp answers the user's current stamp, for a writer to read before
	// its store write. Errors: unavailable, internal.
	Stamp(ctx context.Context, userID string) (string, error)
	// Update records one finished write: in place when the stamp is still
	// the one Stamp answered before the write and the cached list carries
	// it, else by dropping the list. Either way the stamp changes.
	// Errors: unavailable, internal (the caller then Invalidates).
	Update(ctx context.Context, userID, stamp string, change ListChange) error
	// Invalidate changes the stamp and drops the cached list.
	// Errors: unavailable, internal.
	Invalidate(ctx context.Context, userID string) error
}

// ListChange is one write's effect on a cached list: Secret (as the store
// answered the write) replaces the entry of the same ID or is added; with
// Deleted, the entry of Secret.ID is removed. An entry with a higher Version
// than Secret's is kept: it is a later write's.
type ListChange struct {
	Secret  Secret
	Deleted bool
}

// Decision is a rate limiter's answer.
type Decision struct {
	Allowed    bool
	Remaining  int
	RetryAfter time.Duration
}

// Limiter is a GCRA rate limiter keyed by an opaque (already hashed) key.
type Limiter interface {
	// Allow takes one event for key. Errors: unavailable, internal.
	Allow(ctx context.Context, key string) (Decision, error)
	// Peek answers whether Allow would admit one event for key now, without
	// taking it (Remaining and RetryAfter as Allow would say).
	// Errors: unavailable, internal.
	Peek(ctx context.Context, key string) (Decision, error)
}

// StoredResponse is a completed response kept for an idempotency key. It
// never contains a token or a secret value.
type StoredResponse struct {
	RequestHash string `json:"request_hash"`
	Status      int    `json:"status"`
	Body        []byte `json:"body"`
}

// IdempotencyStore remembers the first response to an Idempotency-Key.
type IdempotencyStore interface {
	// Begin claims key for ttl. When a completed response is stored it is
	// returned with claimed=false. Errors: conflict (another request holds the
	// key and has not finished), unavailable, internal.
	Begin(ctx context.Context, key string, ttl time.Duration) (stored *StoredResponse, claimed bool, err error)
	// Complete stores the response for ttl. Errors: unavailable, internal.
	Complete(ctx context.Context, key string, resp StoredResponse, ttl time.Duration) error
	// Release drops a claim whose request failed. Errors: unavailable, internal.
	Release(ctx context.Context, key string) error
}

// Pinger reports the health of a dependency. Errors: unavailable.
type Pinger interface {
	Ping(ctx context.Context) error
}

// NamedCiphertext is a secret's current ciphertext with the name stored
// alongside it.
type NamedCiphertext struct {
	Name       string
	Ciphertext string
}

// NamedCiphertextStore is optionally implemented by a SecretStore whose
// stored versions carry the secret's name: provisioning then reads only the
// selected secrets, not the list of all of them. Implemented by vaultx.
type NamedCiphertextStore interface {
	// NamedCiphertexts returns the current ciphertext and name of each id, in
	// order, read concurrently; a name is "" when the stored version does not
	// carry one. Errors: not_found if any id is absent, unavailable, internal.
	NamedCiphertexts(ctx context.Context, userID string, secretIDs []string) ([]NamedCiphertext, error)
}
