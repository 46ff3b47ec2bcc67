package vaultx

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/layout"
)

// KV v2 answers, decoded.

// kvVersion is the metadata of one version as the data endpoint reports it.
type kvVersion struct {
	CreatedTime    time.Time         `json:"created_time"`
	DeletionTime   string            `json:"deletion_time"`
	Destroyed      bool              `json:"destroyed"`
	Version        int               `json:"version"`
	CustomMetadata map[string]string `json:"custom_metadata"`
}

// kvRead is the answer of a data read.
type kvRead[T any] struct {
	Data     *T        `json:"data"`
	Metadata kvVersion `json:"metadata"`
}

// kvMeta is the answer of a metadata read.
type kvMeta struct {
	CreatedTime    time.Time                `json:"created_time"`
	UpdatedTime    time.Time                `json:"updated_time"`
	CurrentVersion int                      `json:"current_version"`
	OldestVersion  int                      `json:"oldest_version"`
	CustomMetadata map[string]string        `json:"custom_metadata"`
	Versions       map[string]kvVersionInfo `json:"versions"`
}

type kvVersionInfo struct {
	CreatedTime  time.Time `json:"created_time"`
	DeletionTime string    `json:"deletion_time"`
	Destroyed    bool      `json:"destroyed"`
}

func (c *Client) dataPath(p string) string { return layout.DataPath(c.cfg.KVMount, p) }
func (c *Client) metaPath(p string) string { return layout.MetadataPath(c.cfg.KVMount, p) }

// kvWrite writes data at p. cas < 0 means no check-and-set.
func (c *Client) kvWrite(ctx context.Context, p string, data any, cas int) (kvVersion, error) {
	body := map[string]any{"data": data}
	if cas >= 0 {
		body["options"] = map[string]int{"cas": cas}
	}
	env, err := c.do(ctx, request{method: http.MethodPost, path: c.dataPath(p), body: body})
	if err != nil {
		return kvVersion{}, err
	}
	var v kvVersion
	if err := env.decode(&v); err != nil {
		return kvVersion{}, broker.WithCode(broker.CodeInternal, err, "decode vault kv write")
	}
	return v, nil
}

// kvReadInto reads the data at p (version 0: current) into out. A missing
// path, or a deleted or destroyed version, is a 404 error.
func kvReadInto[T any](ctx context.Context, c *Client, p string, version int) (T, kvVersion, error) {
	var zero T
	r := request{method: http.MethodGet, path: c.dataPath(p)}
	if version > 0 {
		r.params = url.Values{"version": {strconv.Itoa(version)}}
	}
	env, err := c.do(ctx, r)
	if err != nil {
		return zero, kvVersion{}, err
	}
	var rd kvRead[T]
	if err := env.decode(&rd); err != nil {
		return zero, kvVersion{}, broker.WithCode(broker.CodeInternal, err, "decode vault kv read")
	}
	if rd.Data == nil {
		return zero, rd.Metadata, errNoData
	}
	return *rd.Data, rd.Metadata, nil
}

// errNoData marks a data read that found no live value (KV answers some of
// those with 200 and null data). It maps to not_found.
var errNoData = broker.Errorf(broker.CodeNotFound, "no data")

func (c *Client) kvMetaRead(ctx context.Context, p string) (kvMeta, error) {
	env, err := c.do(ctx, request{method: http.MethodGet, path: c.metaPath(p)})
	if err != nil {
		return kvMeta{}, err
	}
	var m kvMeta
	if err := env.decode(&m); err != nil {
		return kvMeta{}, broker.WithCode(broker.CodeInternal, err, "decode vault kv metadata")
	}
	return m, nil
}

// kvMetaWrite replaces the custom metadata of p (creating the metadata entry
// when absent).
func (c *Client) kvMetaWrite(ctx context.Context, p string, custom map[string]string) error {
	_, err := c.do(ctx, request{method: http.MethodPost, path: c.metaPath(p), body: map[string]any{"custom_metadata": custom}})
	return err
}

// kvDelete deletes the metadata and every version of p. Absent is not an error.
func (c *Client) kvDelete(ctx context.Context, p string) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: c.metaPath(p)})
	if statusOf(err) == http.StatusNotFound {
		return nil
	}
	return err
}

// kvList lists the keys under folder p; an absent folder is empty.
func (c *Client) kvList(ctx context.Context, p string) ([]string, error) {
	env, err := c.do(ctx, request{method: "LIST", path: c.metaPath(strings.TrimSuffix(p, "/") + "/")})
	if statusOf(err) == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var d struct {
		Keys []string `json:"keys"`
	}
	if err := env.decode(&d); err != nil {
		return nil, broker.WithCode(broker.CodeInternal, err, "decode vault kv list")
	}
	return d.Keys, nil
}

// pathSegment checks that s can be used as one path segment.
// Errors: invalid.
func pathSegment(field, s string) error {
	switch {
	case s == "":
		return broker.Invalid(broker.FieldError{Field: field, Message: "must not be empty"})
	case len(s) > 512:
		return broker.Invalid(broker.FieldError{Field: field, Message: "is too long"})
	case s == "." || strings.Contains(s, "..") || strings.ContainsAny(s, "/\\?#%"):
		return broker.Invalid(broker.FieldError{Field: field, Message: "must not contain '/', '\\', '..', '?', '#' or '%'"})
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return broker.Invalid(broker.FieldError{Field: field, Message: "must not contain control characters"})
		}
	}
	return nil
}

func segments(kv ...string) error {
	for i := 0; i+1 < len(kv); i += 2 {
		if err := pathSegment(kv[i], kv[i+1]); err != nil {
			return err
		}
	}
	return nil
}
