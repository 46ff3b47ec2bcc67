package vaultx

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/layout"
)

// apiKeyData is stored at apikeys/<sha256 hex> and, as a per-user index, at
// users/<user_id>/apikeys/<sha256 hex>.
type apiKeyData struct {
	UserID    string    `json:"user_id"`
	Label     string    `json:"label"`
	CreatedAt time.Time `json:"created_at"`
}

// errAPIKeyNotFound answers an unknown key hash (a sentinel: never changed).
var errAPIKeyNotFound = broker.Errorf(broker.CodeNotFound, "api key not found")

func checkHash(hash string) error {
	if len(hash) != 64 || strings.Trim(hash, "0123456789abcdef") != "" {
		return broker.Invalid(broker.FieldError{Field: "id", Message: "must be a lowercase SHA-256 hex digest"})
	}
	return nil
}

// PutAPIKey stores k (cas=0 on apikeys/<hash>) and then its per-user index entry.
// Errors: invalid, conflict (the hash exists), unavailable, internal.
func (c *Client) PutAPIKey(ctx context.Context, k broker.APIKey) error {
	if err := checkHash(k.ID); err != nil {
		return err
	}
	if err := pathSegment("user_id", k.UserID); err != nil {
		return err
	}
	if k.CreatedAt.IsZero() {
		k.CreatedAt = time.Now()
	}
	d := apiKeyData{UserID: k.UserID, Label: k.Label, CreatedAt: k.CreatedAt.UTC()}
	if _, err := c.kvWrite(ctx, layout.APIKeyPath(k.ID), d, 0); err != nil {
		if isCASMismatch(err) {
			return broker.WithCode(broker.CodeConflict, err, "api key already exists")
		}
		return mapErr(err, "store api key", nil)
	}
	if _, err := c.kvWrite(ctx, layout.UserAPIKeyPath(k.UserID, k.ID), d, -1); err != nil {
		c.cleanup(func(ctx context.Context) error { return c.kvDelete(ctx, layout.APIKeyPath(k.ID)) }, "undo api key")
		return mapErr(err, "store api key index", nil)
	}
	return nil
}

// GetAPIKey looks a key up by its hash (one read).
// Errors: invalid, not_found, unavailable, internal.
func (c *Client) GetAPIKey(ctx context.Context, hash string) (broker.APIKey, error) {
	if err := checkHash(hash); err != nil {
		return broker.APIKey{}, err
	}
	d, _, err := kvReadInto[apiKeyData](ctx, c, layout.APIKeyPath(hash), 0)
	if err == nil && d.UserID == "" {
		err = errNoData
	}
	if err != nil {
		return broker.APIKey{}, mapErr(err, "read api key", errAPIKeyNotFound)
	}
	return broker.APIKey{ID: hash, UserID: d.UserID, Label: d.Label, CreatedAt: d.CreatedAt}, nil
}

// ListAPIKeys lists a user's keys from the per-user index (one LIST, then the
// entries concurrently), oldest first.
// Errors: invalid, unavailable, internal.
func (c *Client) ListAPIKeys(ctx context.Context, userID string) ([]broker.APIKey, error) {
	if err := pathSegment("user_id", userID); err != nil {
		return nil, err
	}
	keys, err := c.kvList(ctx, layout.UserFolder(userID, layout.SubAPIKeys))
	if err != nil {
		return nil, mapErr(err, "list api keys", nil)
	}
	out := make([]broker.APIKey, len(keys))
	ok := make([]bool, len(keys))
	err = parallel(ctx, len(keys), func(ctx context.Context, i int) error {
		if checkHash(keys[i]) != nil {
			return nil
		}
		d, _, err := kvReadInto[apiKeyData](ctx, c, layout.UserAPIKeyPath(userID, keys[i]), 0)
		if broker.IsCode(mapErr(err, "", nil), broker.CodeNotFound) {
			return nil // deleted meanwhile
		}
		if err != nil {
			return err
		}
		out[i], ok[i] = broker.APIKey{ID: keys[i], UserID: userID, Label: d.Label, CreatedAt: d.CreatedAt}, true
		return nil
	})
	if err != nil {
		return nil, mapErr(err, "list api keys", nil)
	}
	res := make([]broker.APIKey, 0, len(keys))
	for i := range out {
		if ok[i] {
			res = append(res, out[i])
		}
	}
	sort.SliceStable(res, func(i, j int) bool { return res[i].CreatedAt.Before(res[j].CreatedAt) })
	return res, nil
}

// DeleteAPIKey removes the key (it stops authenticating at once in Vault;
// callers' caches may lag) and its index entry.
// Errors: invalid, not_found, unavailable, internal.
func (c *Client) DeleteAPIKey(ctx context.Context, hash string) error {
	k, err := c.GetAPIKey(ctx, hash)
	if err != nil {
		return err
	}
	if err := c.kvDelete(ctx, layout.APIKeyPath(hash)); err != nil {
		return mapErr(err, "delete api key", errAPIKeyNotFound)
	}
	if pathSegment("user_id", k.UserID) == nil {
		if err := c.kvDelete(ctx, layout.UserAPIKeyPath(k.UserID, hash)); err != nil {
			return mapErr(err, "delete api key index", nil)
		}
	}
	return nil
}
