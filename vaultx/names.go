package vaultx

import (
	"context"
	"strings"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/layout"
)

type nameData struct {
	SecretID string `json:"secret_id"`
}

// nameKey is the index key of a name: the name upper-cased, so that one
// user holds one name per case (OPENAI_API_KEY and openai_api_key are the
// same env var to the platform's CLI, which upper-cases what users select).
// Entries written before names were folded keep their exact spelling as key.
func nameKey(name string) string { return strings.ToUpper(name) }

// errNameNotFound answers a name without an index entry (a sentinel: never changed).
var errNameNotFound = broker.Errorf(broker.CodeNotFound, "name not found")

// ReserveName binds name to secretID with cas=0: of concurrent reservations of
// one name, in any letter case, exactly one succeeds (the key is nameKey).
// Errors: invalid, conflict (the name is bound), unavailable, internal.
func (c *Client) ReserveName(ctx context.Context, userID, name, secretID string) error {
	if err := segments("user_id", userID, "name", name, "secret_id", secretID); err != nil {
		return err
	}
	_, err := c.kvWrite(ctx, layout.NamePath(userID, nameKey(name)), nameData{secretID}, 0)
	if isCASMismatch(err) {
		return broker.WithCode(broker.CodeConflict, err, "a secret with this name already exists")
	}
	return mapErr(err, "reserve secret name", nil)
}

// NameOwner returns the secret id bound to name with the entry's version and
// creation time. Errors: invalid, not_found, unavailable, internal.
func (c *Client) NameOwner(ctx context.Context, userID, name string) (broker.NameEntry, error) {
	if err := segments("user_id", userID, "name", name); err != nil {
		return broker.NameEntry{}, err
	}
	d, meta, err := kvReadInto[nameData](ctx, c, layout.NamePath(userID, nameKey(name)), 0)
	if err == nil && d.SecretID == "" {
		err = errNoData
	}
	if err != nil {
		return broker.NameEntry{}, mapErr(err, "read secret name", errNameNotFound)
	}
	return broker.NameEntry{SecretID: d.SecretID, Version: meta.Version, CreatedAt: meta.CreatedTime}, nil
}

// RebindName points name at secretID with check-and-set on entry.Version.
// Errors: invalid, conflict, unavailable, internal.
func (c *Client) RebindName(ctx context.Context, userID, name, secretID string, entry broker.NameEntry) error {
	if err := segments("user_id", userID, "name", name, "secret_id", secretID); err != nil {
		return err
	}
	_, err := c.kvWrite(ctx, layout.NamePath(userID, nameKey(name)), nameData{secretID}, entry.Version)
	if isCASMismatch(err) {
		return broker.WithCode(broker.CodeConflict, err, "the name was rebound concurrently")
	}
	return mapErr(err, "rebind secret name", nil)
}

// ReleaseName deletes the name index entry; absent is not an error.
// Errors: invalid, unavailable, internal.
func (c *Client) ReleaseName(ctx context.Context, userID, name string) error {
	if err := segments("user_id", userID, "name", name); err != nil {
		return err
	}
	return mapErr(c.kvDelete(ctx, layout.NamePath(userID, nameKey(name))), "release secret name", nil)
}
