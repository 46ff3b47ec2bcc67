package vaultx

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/layout"
)

// Records is the record store (broker.RecordStore) in Vault KV, the system of
// record: runtime and evaluation records under users/<user>/runtimes/<id> and
// users/<user>/evaluations/<id> (the owner is in the path, so another user's id
// is a missing entry), and wrapping accessors under accessors/<sandbox id>. It
// holds no token and no value. Provisioning and revocation depend on Vault
// only, so a Redis outage does not stop them. Get it with Client.Records.
type Records struct{ c *Client }

var _ broker.RecordStore = (*Records)(nil)

// Records returns the KV record store sharing the client's connection and token.
func (c *Client) Records() *Records { return &Records{c: c} }

// recordData is the KV data of a record: the broker's stored JSON document.
type recordData struct {
	Record string `json:"record"`
}

// accessorData is the KV data of an accessor entry.
type accessorData struct {
	Accessor  string    `json:"accessor"`
	ExpiresAt time.Time `json:"expires_at"`
}

func checkRecordIDs(userID, id string) error {
	if err := pathSegment("user_id", userID); err != nil {
		return err
	}
	return pathSegment("id", id)
}

// PutRuntime creates or replaces a runtime record (no bootstrap). A write
// repeated after a lost answer stores the same document again.
// Errors: invalid, unavailable, internal.
func (r *Records) PutRuntime(ctx context.Context, rt broker.Runtime) error {
	doc, err := broker.EncodeRuntime(rt)
	if err != nil {
		return err
	}
	if err := checkRecordIDs(rt.UserID, rt.ID); err != nil {
		return err
	}
	_, err = r.c.kvWrite(ctx, layout.RuntimePath(rt.UserID, rt.ID), recordData{Record: string(doc)}, -1)
	return mapErr(err, "write runtime record", nil)
}

// GetRuntime returns the user's runtime. Errors: not_found (absent or another
// user's), unavailable, internal.
func (r *Records) GetRuntime(ctx context.Context, userID, id string) (broker.Runtime, error) {
	if checkRecordIDs(userID, id) != nil {
		return broker.Runtime{}, broker.ErrRuntimeNotFound
	}
	return getRecord(ctx, r.c, layout.RuntimePath(userID, id), userID, "read runtime record", broker.ErrRuntimeNotFound, broker.DecodeRuntime)
}

func getRecord[T interface{ Owner() string }](ctx context.Context, c *Client, p, userID, what string, notFound *broker.Error, decode func([]byte) (T, error)) (T, error) {
	var zero T
	d, _, err := kvReadInto[recordData](ctx, c, p, 0)
	if err != nil {
		if err = mapErr(err, what, notFound); broker.IsCode(err, broker.CodeNotFound) {
			return zero, notFound // the same answer for every absent id (no path in it)
		}
		return zero, err
	}
	rec, err := decode([]byte(d.Record))
	if err != nil {
		return zero, err
	}
	if rec.Owner() != userID {
		return zero, notFound
	}
	return rec, nil
}

// ListRuntimes returns the user's runtimes, oldest first (by CreatedAt, then
// id): one LIST, then the records, at most 16 at a time.
// Errors: invalid, unavailable, internal.
func (r *Records) ListRuntimes(ctx context.Context, userID string) ([]broker.Runtime, error) {
	if err := pathSegment("user_id", userID); err != nil {
		return nil, err
	}
	keys, err := r.c.kvList(ctx, layout.UserFolder(userID, layout.SubRuntimes))
	if err != nil {
		return nil, mapErr(err, "list runtime records", nil)
	}
	keys = slices.DeleteFunc(keys, func(k string) bool { return strings.HasSuffix(k, "/") || pathSegment("id", k) != nil })
	got := make([]broker.Runtime, len(keys))
	found := make([]bool, len(keys))
	err = parallel(ctx, len(keys), func(ctx context.Context, i int) error {
		rt, err := r.GetRuntime(ctx, userID, keys[i])
		if broker.IsCode(err, broker.CodeNotFound) {
			return nil // deleted meanwhile
		}
		got[i], found[i] = rt, err == nil
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]broker.Runtime, 0, len(keys))
	for i := range got {
		if found[i] {
			out = append(out, got[i])
		}
	}
	slices.SortFunc(out, func(a, b broker.Runtime) int {
		if d := a.CreatedAt.Compare(b.CreatedAt); d != 0 {
			return d
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}

// DeleteRuntime removes the user's runtime record.
// Errors: not_found (absent or another user's), unavailable, internal.
func (r *Records) DeleteRuntime(ctx context.Context, userID, id string) error {
	if checkRecordIDs(userID, id) != nil {
		return broker.ErrRuntimeNotFound
	}
	p := layout.RuntimePath(userID, id)
	if _, err := r.c.kvMetaRead(ctx, p); err != nil {
		if err = mapErr(err, "read runtime record", nil); broker.IsCode(err, broker.CodeNotFound) {
			return broker.ErrRuntimeNotFound
		}
		return err
	}
	return mapErr(r.c.kvDelete(ctx, p), "delete runtime record", nil)
}

// PutEvaluation creates or replaces an evaluation record, without any
// bootstrap. Errors: invalid, unavailable, internal.
func (r *Records) PutEvaluation(ctx context.Context, e broker.Evaluation) error {
	doc, err := broker.EncodeEvaluation(e)
	if err != nil {
		return err
	}
	if err := checkRecordIDs(e.UserID, e.ID); err != nil {
		return err
	}
	_, err = r.c.kvWrite(ctx, layout.EvaluationPath(e.UserID, e.ID), recordData{Record: string(doc)}, -1)
	return mapErr(err, "write evaluation record", nil)
}

// GetEvaluation returns the user's evaluation. Errors: not_found (absent or
// another user's), unavailable, internal.
func (r *Records) GetEvaluation(ctx context.Context, userID, id string) (broker.Evaluation, error) {
	if checkRecordIDs(userID, id) != nil {
		return broker.Evaluation{}, broker.ErrEvaluationNotFound
	}
	return getRecord(ctx, r.c, layout.EvaluationPath(userID, id), userID, "read evaluation record", broker.ErrEvaluationNotFound, broker.DecodeEvaluation)
}

// PutAccessor records sandboxID -> wrapping accessor until ttl from now.
// Errors: invalid (empty sandbox id or accessor, ttl <= 0), unavailable, internal.
func (r *Records) PutAccessor(ctx context.Context, sandboxID, accessor string, ttl time.Duration) error {
	if sandboxID == "" || accessor == "" || ttl <= 0 {
		return broker.Errorf(broker.CodeInvalid, "accessor record needs a sandbox id, an accessor and a positive ttl")
	}
	if err := pathSegment("sandbox_id", sandboxID); err != nil {
		return err
	}
	_, err := r.c.kvWrite(ctx, layout.AccessorPath(sandboxID), accessorData{Accessor: accessor, ExpiresAt: time.Now().Add(ttl).UTC()}, -1)
	return mapErr(err, "write accessor record", nil)
}

// TakeAccessor returns and forgets the accessor; ok is false when none is
// recorded (never, expired or already taken). Of concurrent takers exactly one
// gets it: each replaces the entry with a tombstone under check-and-set on the
// version it read, and only the first write succeeds; the entry is then deleted.
// Errors: unavailable, internal.
func (r *Records) TakeAccessor(ctx context.Context, sandboxID string) (string, bool, error) {
	if pathSegment("sandbox_id", sandboxID) != nil {
		return "", false, nil
	}
	p := layout.AccessorPath(sandboxID)
	d, v, err := kvReadInto[accessorData](ctx, r.c, p, 0)
	if statusOf(err) == http.StatusNotFound || broker.IsCode(err, broker.CodeNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, mapErr(err, "read accessor record", nil)
	}
	if d.Accessor == "" {
		return "", false, nil // a tombstone: taken by another caller
	}
	if _, err := r.c.kvWrite(ctx, p, accessorData{ExpiresAt: d.ExpiresAt}, v.Version); err != nil {
		if isCASMismatch(err) {
			return "", false, nil
		}
		return "", false, mapErr(err, "take accessor record", nil)
	}
	if err := r.c.kvDelete(ctx, p); err != nil {
		r.c.log.Warn().Err(err).Msg("accessor tombstone not deleted; the sweep removes it")
	}
	if time.Now().After(d.ExpiresAt) {
		return "", false, nil // the token expired by itself
	}
	return d.Accessor, true, nil
}

// SweepAccessors deletes the accessor entries whose token has expired (a
// sandbox never restarted or deleted leaves one behind). Safe on several
// replicas at once. It returns how many it deleted. Errors: unavailable, internal.
func (r *Records) SweepAccessors(ctx context.Context) (int, error) {
	ids, err := r.c.kvList(ctx, layout.AreaAccessors)
	if err != nil {
		return 0, mapErr(err, "list accessor records", nil)
	}
	n := 0
	for _, id := range ids {
		if pathSegment("sandbox_id", id) != nil {
			continue
		}
		p := layout.AccessorPath(id)
		d, _, err := kvReadInto[accessorData](ctx, r.c, p, 0)
		if statusOf(err) == http.StatusNotFound || broker.IsCode(err, broker.CodeNotFound) {
			continue
		}
		if err != nil {
			return n, mapErr(err, "read accessor record", nil)
		}
		if time.Now().After(d.ExpiresAt) {
			if err := r.c.kvDelete(ctx, p); err != nil {
				return n, mapErr(err, "delete accessor record", nil)
			}
			n++
		}
	}
	return n, nil
}
