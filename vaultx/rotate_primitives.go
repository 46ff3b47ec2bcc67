package vaultx

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/layout"
	"github.com/acme/secretsbroker/rotation"
)

// *Client is the Vault of package rotation's workflow.
var _ rotation.Vault = (*Client)(nil)

// Target names the client's KV mount and transit key.
func (c *Client) Target() rotation.Target {
	return rotation.Target{KVMount: c.cfg.KVMount, TransitMount: c.cfg.TransitMount, TransitKey: c.cfg.TransitKey}
}

// CallTimeout is the timeout of one Vault call (Config.Timeout).
func (c *Client) CallTimeout() time.Duration { return c.cfg.Timeout }

// Logger is the logger the client was created with, for the workflows
// (package rotation) that run over it.
func (c *Client) Logger() zerolog.Logger { return c.log }

// UserIDs lists the user folders under users/, sorted.
// Errors: forbidden, unavailable, internal.
func (c *Client) UserIDs(ctx context.Context) ([]string, error) {
	keys, err := c.kvList(ctx, layout.AreaUsers)
	if err != nil {
		return nil, mapErr(err, "list users", nil)
	}
	var out []string
	for _, k := range keys {
		if u, ok := strings.CutSuffix(k, "/"); ok && u != "" {
			out = append(out, u)
		}
	}
	slices.Sort(out)
	return out, nil
}

// SecretIDs lists the ids of userID's secrets (one LIST).
// Errors: invalid, forbidden, unavailable, internal.
func (c *Client) SecretIDs(ctx context.Context, userID string) ([]string, error) {
	if err := pathSegment("user_id", userID); err != nil {
		return nil, err
	}
	ids, err := c.secretIDs(ctx, userID)
	return ids, mapErr(err, "list secrets", nil)
}

// ReadCurrent reads a secret's current version whole, with the transit key
// version of its ciphertext. It decrypts nothing.
// Errors: invalid, not_found (absent, or deleted meanwhile), forbidden,
// unavailable, internal.
func (c *Client) ReadCurrent(ctx context.Context, userID, secretID string) (rotation.Current, error) {
	if err := checkSecretIDs(userID, secretID); err != nil {
		return rotation.Current{}, err
	}
	data, v, err := kvReadInto[map[string]any](ctx, c, layout.SecretPath(userID, secretID), 0)
	if err != nil {
		return rotation.Current{}, mapErr(err, "read secret", broker.ErrSecretNotFound)
	}
	ct, _ := data[dataCiphertext].(string)
	return rotation.Current{Version: v.Version, KeyVersion: ciphertextKeyVersion(ct), Ciphertext: ct, Data: data}, nil
}

// WriteRewrapped writes cur's data with ciphertext ct (marked "rewrapped":
// true) as the secret's next version, with check-and-set on cur.Version,
// then points the custom metadata at it (describeVersion). A failed
// metadata write is logged, not returned: the version is stored, and
// readers take its preview from its data.
// Errors: invalid, conflict (another writer won the check-and-set),
// forbidden, unavailable, internal.
func (c *Client) WriteRewrapped(ctx context.Context, userID, secretID string, cur rotation.Current, ct string) error {
	if err := checkSecretIDs(userID, secretID); err != nil {
		return err
	}
	p := layout.SecretPath(userID, secretID)
	data := maps.Clone(cur.Data)
	if data == nil {
		data = map[string]any{}
	}
	data[dataCiphertext] = ct
	data[dataRewrapped] = true
	v, err := c.kvWrite(ctx, p, data, cur.Version)
	if isCASMismatch(err) {
		return broker.WithCode(broker.CodeConflict, err, "secret was modified concurrently")
	}
	if err != nil {
		return mapErr(err, "write rewrapped secret", nil)
	}
	w := broker.SecretWrite{UserID: userID, SecretID: secretID}
	w.MaskedValue, _ = cur.Data[mdMasked].(string)
	w.Fingerprint, _ = cur.Data[mdFingerprint].(string)
	if _, _, err := c.describeVersion(ctx, p, w, v); err != nil {
		c.log.Warn().Err(err).Str("user_id", userID).Str("secret_id", secretID).Msg("rewrap: metadata not updated; readers use the version's data")
	}
	return nil
}

// LiveVersions reads the metadata and every live version's data of a secret
// (one metadata read, one data read per live version): each version's
// transit key version and fingerprint. A secret deleted meanwhile has none.
// Errors: invalid, forbidden, unavailable, internal.
func (c *Client) LiveVersions(ctx context.Context, userID, secretID string) ([]rotation.StoredVersion, error) {
	if err := checkSecretIDs(userID, secretID); err != nil {
		return nil, err
	}
	p := layout.SecretPath(userID, secretID)
	m, err := c.kvMetaRead(ctx, p)
	if statusOf(err) == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, mapErr(err, "scan secret versions", nil)
	}
	var out []rotation.StoredVersion
	for k, info := range m.Versions {
		n, err := strconv.Atoi(k)
		if err != nil || info.Destroyed || info.DeletionTime != "" {
			continue
		}
		d, _, err := kvReadInto[secretData](ctx, c, p, n)
		if errors.Is(err, errNoData) || statusOf(err) == http.StatusNotFound {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, mapErr(err, "scan secret versions", nil)
		}
		out = append(out, rotation.StoredVersion{
			KeyVersion: ciphertextKeyVersion(d.Ciphertext), Fingerprint: d.Fingerprint, Current: n == m.CurrentVersion,
		})
	}
	return out, nil
}
