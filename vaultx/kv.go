package vaultx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	json "github.com/segmentio/encoding/json"

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

// kvVersionInfo is one entry of a metadata read's versions (all of a
// secret's kept versions, of which a get needs one: the time stays text
// until asked for).
type kvVersionInfo struct {
	CreatedTime  vaultTime `json:"created_time"`
	DeletionTime string    `json:"deletion_time"`
	Destroyed    bool      `json:"destroyed"`
}

// vaultTime is a time as Vault wrote it (RFC 3339), parsed on demand.
type vaultTime string

// time parses t; the zero time when it is empty or malformed.
func (t vaultTime) time() time.Time {
	v, _ := time.Parse(time.RFC3339Nano, string(t))
	return v
}

func (c *Client) dataPath(p string) string { return layout.DataPath(c.cfg.KVMount, p) }
func (c *Client) metaPath(p string) string { return layout.MetadataPath(c.cfg.KVMount, p) }

// kvWrite writes data at p. cas < 0 means no check-and-set: the write is
// then safe to repeat (the same data again) and retried as any read. A
// check-and-set write is not repeated blindly: see kvWriteCAS.
func (c *Client) kvWrite(ctx context.Context, p string, data any, cas int) (kvVersion, error) {
	if cas < 0 {
		return c.kvWriteOnce(ctx, p, data, cas)
	}
	return c.kvWriteCAS(ctx, p, data, cas)
}

// kvWriteBody is a KV v2 data write (a struct, not a map: encoding a map
// sorts its keys on every call).
type kvWriteBody struct {
	Data    any             `json:"data"`
	Options *kvWriteOptions `json:"options,omitempty"`
}

type kvWriteOptions struct {
	CAS int `json:"cas"`
}

func (c *Client) kvWriteOnce(ctx context.Context, p string, data any, cas int) (kvVersion, error) {
	body := kvWriteBody{Data: data}
	if cas >= 0 {
		body.Options = &kvWriteOptions{CAS: cas}
	}
	env, err := c.do(ctx, request{method: http.MethodPost, path: c.dataPath(p), body: body, once: cas >= 0})
	if err != nil {
		return kvVersion{}, err
	}
	var v kvVersion
	if err := env.decode(&v); err != nil {
		return kvVersion{}, broker.WithCode(broker.CodeInternal, err, "decode vault kv write")
	}
	return v, nil
}

// kvWriteCAS is a check-and-set write that rides out a lost answer. When an
// attempt fails in a way that leaves its effect unknown (the connection broke
// after the request went out, a 5xx from a node losing leadership), version
// cas+1 is read back: holding exactly data, the write was applied (the answer
// is that version); absent, it was not, and the write is sent again; holding
// something else, another writer won (a check-and-set conflict). A conflict
// after such an unknown attempt is checked the same way, since it may be this
// write's own first attempt. So no write is lost and none applied twice.
func (c *Client) kvWriteCAS(ctx context.Context, p string, data any, cas int) (kvVersion, error) {
	start := time.Now()
	deadline := retryDeadline(ctx, start, c.cfg.Timeout)
	uncertain := false
	for n := 0; ; n++ {
		v, err := c.kvWriteOnce(ctx, p, data, cas)
		if err == nil {
			return v, nil
		}
		unknown := classifyAttempt(err, false) == attemptUnknown
		if !unknown && !(uncertain && isCASMismatch(err)) {
			return kvVersion{}, err
		}
		uncertain = true
		applied, got, rerr := c.readBack(ctx, p, data, cas+1)
		switch {
		case rerr != nil:
			return kvVersion{}, err // could not tell: the write's own error
		case applied:
			c.log.Info().Int("version", got.Version).Msg("vault kv write answer lost; read back: it was applied")
			return got, nil
		case isCASMismatch(err) || got.Version != 0:
			return kvVersion{}, casConflict(err)
		}
		if !pause(ctx, n, deadline) {
			return kvVersion{}, err
		}
	}
}

// readBack reports whether version of p holds exactly data. Absent (not
// written), it returns false with a zero version; holding other data, false
// with that version's metadata. Errors: the read's, when it could not tell.
func (c *Client) readBack(ctx context.Context, p string, data any, version int) (bool, kvVersion, error) {
	got, meta, err := kvReadInto[json.RawMessage](ctx, c, p, version)
	if statusOf(err) == http.StatusNotFound || errors.Is(err, errNoData) {
		return false, kvVersion{}, nil
	}
	if err != nil {
		return false, kvVersion{}, err
	}
	if meta.Version == 0 {
		meta.Version = version
	}
	same, err := sameJSON(got, data)
	if err != nil {
		return false, kvVersion{}, err
	}
	return same, meta, nil
}

// sameJSON compares stored JSON with the data a write sent, after both are
// normalised through encoding/json (object keys sorted).
func sameJSON(stored json.RawMessage, sent any) (bool, error) {
	b, err := json.Marshal(sent)
	if err != nil {
		return false, broker.WithCode(broker.CodeInternal, err, "encode kv data")
	}
	var x, y any
	if err := json.Unmarshal(stored, &x); err != nil {
		return false, broker.WithCode(broker.CodeInternal, err, "decode kv data")
	}
	if err := json.Unmarshal(b, &y); err != nil {
		return false, broker.WithCode(broker.CodeInternal, err, "decode kv data")
	}
	nx, _ := json.Marshal(x)
	ny, _ := json.Marshal(y)
	return bytes.Equal(nx, ny), nil
}

// casConflict is the check-and-set failure to answer when read-back showed
// another writer's version: Vault's own mismatch error when there is one.
func casConflict(err error) error {
	if isCASMismatch(err) {
		return err
	}
	return fmt.Errorf("%w (%w)", errCASLost, err)
}

// errCASLost marks a check-and-set write whose read-back found another
// writer's version: isCASMismatch reports it like Vault's own mismatch.
var errCASLost = errors.New("check-and-set: another writer's version is stored")

// kvReadInto reads the data at p (version 0: current) into out. A missing
// path, or a deleted or destroyed version, is a 404 error.
func kvReadInto[T any](ctx context.Context, c *Client, p string, version int) (T, kvVersion, error) {
	var zero T
	r := request{method: http.MethodGet, path: c.dataPath(p)}
	if version > 0 {
		r.params = url.Values{"version": {strconv.Itoa(version)}}
	}
	var rd kvRead[T]
	r.into = intoData(&rd)
	if _, err := c.do(ctx, r); err != nil { // a bad answer: internal, "decode vault response"
		return zero, kvVersion{}, err
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
	var m kvMeta
	if _, err := c.do(ctx, request{method: http.MethodGet, path: c.metaPath(p), into: intoData(&m)}); err != nil {
		return kvMeta{}, err
	}
	return m, nil
}

// kvMetaWrite replaces the custom metadata of p (creating the metadata entry
// when absent).
func (c *Client) kvMetaWrite(ctx context.Context, p string, custom map[string]string) error {
	_, err := c.do(ctx, request{method: http.MethodPost, path: c.metaPath(p), body: struct {
		CustomMetadata map[string]string `json:"custom_metadata"`
	}{custom}})
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
