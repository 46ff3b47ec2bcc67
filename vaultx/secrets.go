package vaultx

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/layout"
)

// Custom metadata keys of a secret (KV v2 custom_metadata, strings only).
const (
	mdName        = "name"
	mdProvider    = "provider"
	mdMasked      = "masked_value"
	mdFingerprint = "fingerprint"
	mdVersion     = "version"    // the version the preview fields describe
	mdCreatedAt   = "created_at" // RFC 3339, set once at creation
	// mdEgressHosts is the secret's egress_hosts, comma-joined. KV caps a
	// custom metadata value at 512 bytes, so a longer list continues under
	// egress_hosts_1, egress_hosts_2, ... (never splitting a host).
	mdEgressHosts = "egress_hosts"
)

// mdValueLimit is KV v2's limit on one custom metadata value.
const mdValueLimit = 512

// putEgressHosts stores hosts in md as comma-joined chunks of at most
// mdValueLimit bytes.
func putEgressHosts(md map[string]string, hosts []string) {
	chunk, n := "", 0
	flush := func() {
		if chunk == "" {
			return
		}
		k := mdEgressHosts
		if n > 0 {
			k += "_" + strconv.Itoa(n)
		}
		md[k] = chunk
		chunk, n = "", n+1
	}
	for _, h := range hosts {
		if chunk != "" && len(chunk)+1+len(h) > mdValueLimit {
			flush()
		}
		if chunk != "" {
			chunk += ","
		}
		chunk += h
	}
	flush()
}

// egressHostsOf reads the egress_hosts putEgressHosts stored (nil when none).
func egressHostsOf(md map[string]string) []string {
	var out []string
	for n := 0; ; n++ {
		k := mdEgressHosts
		if n > 0 {
			k += "_" + strconv.Itoa(n)
		}
		v, ok := md[k]
		if !ok || v == "" {
			return out
		}
		out = append(out, strings.Split(v, ",")...)
	}
}

// secretData is what each version of a secret holds: the ciphertext and that
// version's own preview (so that version listings need no decryption), plus
// name and provider, so that a version is self-describing even while its
// custom metadata is being written.
type secretData struct {
	Ciphertext  string  `json:"ciphertext"`
	MaskedValue string  `json:"masked_value"`
	Fingerprint string  `json:"fingerprint"`
	Name        string  `json:"name,omitempty"`
	Provider    *string `json:"provider,omitempty"`
}

// Keys of secretData, for a version's data read or written whole (a rewrap
// keeps everything but the ciphertext, and marks the version).
const (
	dataCiphertext = "ciphertext"
	dataRewrapped  = "rewrapped" // true on a version written by a key rotation's rewrap
)

func dataOf(w broker.SecretWrite) secretData {
	return secretData{Ciphertext: w.Ciphertext, MaskedValue: w.MaskedValue, Fingerprint: w.Fingerprint, Name: w.Name, Provider: w.Provider}
}

func checkSecretIDs(userID, secretID string) error {
	return segments("user_id", userID, "secret_id", secretID)
}

func customMetadata(w broker.SecretWrite, version int, createdAt time.Time) map[string]string {
	md := map[string]string{
		mdName:        w.Name,
		mdMasked:      w.MaskedValue,
		mdFingerprint: w.Fingerprint,
		mdVersion:     strconv.Itoa(version),
		mdCreatedAt:   createdAt.UTC().Format(time.RFC3339Nano),
	}
	if w.Provider != nil {
		md[mdProvider] = *w.Provider
	}
	putEgressHosts(md, w.EgressHosts)
	return md
}

// CreateSecret writes version 1 of the secret's data with cas=0, then its
// custom metadata. (Data first: a create that loses the check-and-set must not
// have touched the existing secret's metadata. Until the metadata is written,
// readers take name and preview from the data, which carries them too.)
// created_at is the broker's clock at creation, kept in custom metadata so
// every later read reports the same instant; updated_at is the creation time
// of the current version. If the metadata write fails the secret is deleted
// again. Errors: invalid (bad ids), conflict (the id exists), unavailable, internal.
func (c *Client) CreateSecret(ctx context.Context, w broker.SecretWrite) (broker.Secret, error) {
	if err := checkSecretIDs(w.UserID, w.SecretID); err != nil {
		return broker.Secret{}, err
	}
	p := layout.SecretPath(w.UserID, w.SecretID)
	createdAt := time.Now().UTC()
	v, err := c.kvWrite(ctx, p, dataOf(w), 0)
	if err != nil {
		if isCASMismatch(err) {
			return broker.Secret{}, broker.WithCode(broker.CodeConflict, err, "secret already exists")
		}
		return broker.Secret{}, mapErr(err, "create secret", nil)
	}
	if err := c.kvMetaWrite(ctx, p, customMetadata(w, v.Version, createdAt)); err != nil {
		c.cleanup(func(ctx context.Context) error { return c.kvDelete(ctx, p) }, "undo secret create")
		return broker.Secret{}, mapErr(err, "create secret metadata", nil)
	}
	return broker.Secret{
		ID: w.SecretID, Name: w.Name, Provider: w.Provider,
		MaskedValue: w.MaskedValue, Fingerprint: w.Fingerprint,
		Version: v.Version, CreatedAt: createdAt, UpdatedAt: v.CreatedTime,
		EgressHosts: hostsOrEmpty(w.EgressHosts),
	}, nil
}

// UpdateSecret writes a new version with check-and-set on casVersion, then
// the custom metadata describing it. Name and Provider of w are kept as
// given (an empty Name keeps the stored one).
// Errors: invalid, conflict (casVersion is stale), not_found, unavailable, internal.
func (c *Client) UpdateSecret(ctx context.Context, w broker.SecretWrite, casVersion int) (broker.Secret, error) {
	if err := checkSecretIDs(w.UserID, w.SecretID); err != nil {
		return broker.Secret{}, err
	}
	if casVersion < 1 {
		return broker.Secret{}, broker.Invalid(broker.FieldError{Field: "version", Message: "must be at least 1"})
	}
	p := layout.SecretPath(w.UserID, w.SecretID)
	v, err := c.kvWrite(ctx, p, dataOf(w), casVersion)
	if err != nil {
		if isCASMismatch(err) {
			m, merr := c.kvMetaRead(ctx, p)
			if statusOf(merr) == http.StatusNotFound || (merr == nil && m.CurrentVersion == 0) {
				return broker.Secret{}, broker.ErrSecretNotFound
			}
			return broker.Secret{}, broker.WithCode(broker.CodeConflict, err, "secret was modified concurrently")
		}
		return broker.Secret{}, mapErr(err, "update secret", broker.ErrSecretNotFound)
	}
	w, createdAt, err := c.describeVersion(ctx, p, w, v)
	if err != nil {
		// The new version is stored; readers fall back to its data for the
		// preview until the next write fixes the metadata.
		return broker.Secret{}, mapErr(err, "update secret metadata", broker.ErrSecretNotFound)
	}
	return broker.Secret{
		ID: w.SecretID, Name: w.Name, Provider: w.Provider,
		MaskedValue: w.MaskedValue, Fingerprint: w.Fingerprint,
		Version: v.Version, CreatedAt: createdAt, UpdatedAt: v.CreatedTime,
		EgressHosts: hostsOrEmpty(w.EgressHosts),
	}, nil
}

// describeVersion points the custom metadata of the secret at p at version
// v, just written with w's data: with CreateSecret, the one writer of the
// metadata schema (customMetadata). An empty w.Name keeps the stored name
// and provider; created_at is kept (when missing, KV's own creation time of
// the secret is used). It returns w as described and created_at.
func (c *Client) describeVersion(ctx context.Context, p string, w broker.SecretWrite, v kvVersion) (broker.SecretWrite, time.Time, error) {
	old := v.CustomMetadata
	createdAt, ok := parseTime(old[mdCreatedAt])
	if !ok {
		m, err := c.kvMetaRead(ctx, p)
		if err != nil {
			return w, time.Time{}, err
		}
		createdAt = m.CreatedTime
		if old == nil {
			old = m.CustomMetadata
		}
	}
	if w.Name == "" {
		w.Name = old[mdName]
		if prov, ok := old[mdProvider]; ok && w.Provider == nil {
			w.Provider = &prov
		}
		if w.EgressHosts == nil {
			w.EgressHosts = egressHostsOf(old)
		}
	}
	return w, createdAt, c.kvMetaWrite(ctx, p, customMetadata(w, v.Version, createdAt))
}

// hostsOrEmpty is h, nil when empty (the API shows [] either way).
func hostsOrEmpty(h []string) []string {
	if len(h) == 0 {
		return nil
	}
	return h
}

// SetEgressHosts replaces the secret's egress_hosts in its custom metadata
// (a metadata read, then a metadata write through customMetadata, the one
// writer of the schema): no new version. A concurrent value update may
// overwrite the metadata with the hosts it read (last writer wins).
// Errors: invalid, not_found, unavailable, internal.
func (c *Client) SetEgressHosts(ctx context.Context, userID, secretID string, hosts []string) (broker.Secret, error) {
	if err := checkSecretIDs(userID, secretID); err != nil {
		return broker.Secret{}, err
	}
	sec, err := c.getSecret(ctx, userID, secretID)
	if err != nil {
		return broker.Secret{}, mapErr(err, "read secret", broker.ErrSecretNotFound)
	}
	w := broker.SecretWrite{UserID: userID, SecretID: secretID, Name: sec.Name, Provider: sec.Provider,
		MaskedValue: sec.MaskedValue, Fingerprint: sec.Fingerprint, EgressHosts: hostsOrEmpty(hosts)}
	p := layout.SecretPath(userID, secretID)
	if err := c.kvMetaWrite(ctx, p, customMetadata(w, sec.Version, sec.CreatedAt)); err != nil {
		return broker.Secret{}, mapErr(err, "update secret metadata", broker.ErrSecretNotFound)
	}
	sec.EgressHosts = w.EgressHosts
	return sec, nil
}

func parseTime(s string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// GetSecret reads the secret's metadata (one call; a second, of the current
// data, only when a concurrent writer left the metadata describing an older
// version). Never reads or decrypts the value.
// Errors: invalid, not_found, unavailable, internal.
func (c *Client) GetSecret(ctx context.Context, userID, secretID string) (broker.Secret, error) {
	if err := checkSecretIDs(userID, secretID); err != nil {
		return broker.Secret{}, err
	}
	s, err := c.getSecret(ctx, userID, secretID)
	return s, mapErr(err, "read secret", broker.ErrSecretNotFound)
}

func (c *Client) getSecret(ctx context.Context, userID, secretID string) (broker.Secret, error) {
	p := layout.SecretPath(userID, secretID)
	m, err := c.kvMetaRead(ctx, p)
	if err != nil {
		return broker.Secret{}, err
	}
	cur, ok := m.Versions[strconv.Itoa(m.CurrentVersion)]
	if m.CurrentVersion == 0 || !ok || cur.Destroyed || cur.DeletionTime != "" {
		return broker.Secret{}, broker.ErrSecretNotFound // being created, or deleted
	}
	md := m.CustomMetadata
	s := broker.Secret{
		ID:          secretID,
		Name:        md[mdName],
		MaskedValue: md[mdMasked],
		Fingerprint: md[mdFingerprint],
		Version:     m.CurrentVersion,
		CreatedAt:   m.CreatedTime,
		UpdatedAt:   cur.CreatedTime.time(),
		EgressHosts: egressHostsOf(md),
	}
	if t, ok := parseTime(md[mdCreatedAt]); ok {
		s.CreatedAt = t
	}
	if p, ok := md[mdProvider]; ok {
		s.Provider = &p
	}
	if md[mdVersion] != strconv.Itoa(m.CurrentVersion) {
		// A concurrent writer reordered (or the metadata is not written
		// yet): the current version's data describes itself.
		d, _, err := kvReadInto[secretData](ctx, c, p, m.CurrentVersion)
		if err != nil {
			return broker.Secret{}, err
		}
		s.MaskedValue, s.Fingerprint = d.MaskedValue, d.Fingerprint
		if s.Name == "" {
			s.Name, s.Provider = d.Name, d.Provider
		}
	}
	return s, nil
}

// ListSecrets lists the user's secrets (one LIST, then the metadata of each,
// at most 16 at a time), oldest first. Never reads or decrypts a value.
// Errors: invalid, unavailable, internal.
func (c *Client) ListSecrets(ctx context.Context, userID string) ([]broker.Secret, error) {
	if err := pathSegment("user_id", userID); err != nil {
		return nil, err
	}
	ids, err := c.secretIDs(ctx, userID)
	if err != nil {
		return nil, mapErr(err, "list secrets", nil)
	}
	out := make([]broker.Secret, len(ids))
	found := make([]bool, len(ids))
	err = parallel(ctx, len(ids), func(ctx context.Context, i int) error {
		s, err := c.getSecret(ctx, userID, ids[i])
		if statusOf(err) == http.StatusNotFound || broker.IsCode(err, broker.CodeNotFound) {
			return nil // deleted or being created meanwhile
		}
		if err != nil {
			return err
		}
		out[i], found[i] = s, true
		return nil
	})
	if err != nil {
		return nil, mapErr(err, "list secrets", nil)
	}
	res := make([]broker.Secret, 0, len(ids))
	for i := range out {
		if found[i] {
			res = append(res, out[i])
		}
	}
	sort.SliceStable(res, func(i, j int) bool {
		if !res[i].CreatedAt.Equal(res[j].CreatedAt) {
			return res[i].CreatedAt.Before(res[j].CreatedAt)
		}
		return res[i].Name < res[j].Name
	})
	return res, nil
}

func (c *Client) secretIDs(ctx context.Context, userID string) ([]string, error) {
	keys, err := c.kvList(ctx, layout.UserFolder(userID, layout.SubSecrets))
	if err != nil {
		return nil, err
	}
	ids := keys[:0]
	for _, k := range keys {
		if !strings.HasSuffix(k, "/") {
			ids = append(ids, k)
		}
	}
	return ids, nil
}

// CountSecrets counts the user's secrets with one LIST (a secret being
// created or deleted at that instant may be counted).
// Errors: invalid, unavailable, internal.
func (c *Client) CountSecrets(ctx context.Context, userID string) (int, error) {
	if err := pathSegment("user_id", userID); err != nil {
		return 0, err
	}
	ids, err := c.secretIDs(ctx, userID)
	if err != nil {
		return 0, mapErr(err, "count secrets", nil)
	}
	return len(ids), nil
}

// Ciphertexts reads the current ciphertext of each id concurrently (at most
// 16 at a time), in order.
// Errors: invalid, not_found (any id absent), unavailable, internal.
func (c *Client) Ciphertexts(ctx context.Context, userID string, secretIDs []string) ([]string, error) {
	named, err := c.NamedCiphertexts(ctx, userID, secretIDs)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(named))
	for i, n := range named {
		out[i] = n.Ciphertext
	}
	return out, nil
}

// NamedCiphertexts reads the current version of each id concurrently (at
// most 16 at a time), in order: its ciphertext and the name stored with it
// ("" for a version written without one). A read under the user's path is
// the ownership check: another user's id is absent there.
// Errors: invalid, not_found (any id absent), unavailable, internal.
func (c *Client) NamedCiphertexts(ctx context.Context, userID string, secretIDs []string) ([]broker.NamedCiphertext, error) {
	for _, id := range secretIDs {
		if err := checkSecretIDs(userID, id); err != nil {
			return nil, err
		}
	}
	out := make([]broker.NamedCiphertext, len(secretIDs))
	err := parallel(ctx, len(secretIDs), func(ctx context.Context, i int) error {
		d, _, err := kvReadInto[secretData](ctx, c, layout.SecretPath(userID, secretIDs[i]), 0)
		if err != nil {
			return err
		}
		if d.Ciphertext == "" {
			return broker.ErrSecretNotFound
		}
		out[i] = broker.NamedCiphertext{Name: d.Name, Ciphertext: d.Ciphertext}
		return nil
	})
	if err != nil {
		return nil, mapErr(err, "read secrets", broker.ErrSecretNotFound)
	}
	return out, nil
}

// Versions lists the stored versions, oldest first: one metadata read, then
// the data of each live version for its preview (concurrently). Deleted and
// destroyed versions are listed with Destroyed set and no preview.
// Errors: invalid, not_found, unavailable, internal.
func (c *Client) Versions(ctx context.Context, userID, secretID string) ([]broker.SecretVersion, error) {
	if err := checkSecretIDs(userID, secretID); err != nil {
		return nil, err
	}
	p := layout.SecretPath(userID, secretID)
	m, err := c.kvMetaRead(ctx, p)
	if err != nil {
		return nil, mapErr(err, "list secret versions", broker.ErrSecretNotFound)
	}
	if m.CurrentVersion == 0 {
		return nil, broker.ErrSecretNotFound
	}
	out := make([]broker.SecretVersion, 0, len(m.Versions))
	for k, info := range m.Versions {
		n, err := strconv.Atoi(k)
		if err != nil {
			continue
		}
		out = append(out, broker.SecretVersion{
			Version:   n,
			CreatedAt: info.CreatedTime.time(),
			Current:   n == m.CurrentVersion,
			Destroyed: info.Destroyed || info.DeletionTime != "",
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	err = parallel(ctx, len(out), func(ctx context.Context, i int) error {
		if out[i].Destroyed {
			return nil
		}
		d, _, err := kvReadInto[secretData](ctx, c, p, out[i].Version)
		if errors.Is(err, errNoData) || statusOf(err) == http.StatusNotFound {
			out[i].Destroyed = true // deleted meanwhile
			return nil
		}
		if err != nil {
			return err
		}
		out[i].MaskedValue, out[i].Fingerprint = d.MaskedValue, d.Fingerprint
		return nil
	})
	if err != nil {
		return nil, mapErr(err, "list secret versions", broker.ErrSecretNotFound)
	}
	return out, nil
}

// VersionCiphertext returns the ciphertext of one version.
// Errors: invalid, not_found (absent, deleted or destroyed), unavailable, internal.
func (c *Client) VersionCiphertext(ctx context.Context, userID, secretID string, version int) (string, error) {
	if err := checkSecretIDs(userID, secretID); err != nil {
		return "", err
	}
	if version < 1 {
		return "", broker.Errorf(broker.CodeNotFound, "secret version not found")
	}
	d, _, err := kvReadInto[secretData](ctx, c, layout.SecretPath(userID, secretID), version)
	if err == nil && d.Ciphertext == "" {
		err = errNoData
	}
	if err != nil {
		return "", mapErr(err, "read secret version", broker.Errorf(broker.CodeNotFound, "secret version not found"))
	}
	return d.Ciphertext, nil
}

// DeleteSecret deletes the metadata and every version (a metadata read first,
// to answer not_found for an absent id).
// Errors: invalid, not_found, unavailable, internal.
func (c *Client) DeleteSecret(ctx context.Context, userID, secretID string) error {
	if err := checkSecretIDs(userID, secretID); err != nil {
		return err
	}
	p := layout.SecretPath(userID, secretID)
	m, err := c.kvMetaRead(ctx, p)
	if err != nil {
		return mapErr(err, "delete secret", broker.ErrSecretNotFound)
	}
	if m.CurrentVersion == 0 {
		return broker.ErrSecretNotFound
	}
	return mapErr(c.kvDelete(ctx, p), "delete secret", broker.ErrSecretNotFound)
}

// cleanup runs an undo step with a fresh context (the caller's may be done),
// logging a failure. It is bounded by cleanupTimeout, retries included, so an
// undo during a Vault outage does not hold the caller's answer long (what it
// leaves behind, the sweep or the token's TTL removes).
func (c *Client) cleanup(fn func(ctx context.Context) error, what string) {
	ctx, cancel := context.WithTimeout(context.Background(), min(c.cfg.Timeout, cleanupTimeout))
	defer cancel()
	if err := fn(ctx); err != nil {
		c.log.Error().Err(err).Str("step", what).Msg("vault cleanup failed")
	}
}

// cleanupTimeout bounds one undo step.
const cleanupTimeout = 3 * time.Second
