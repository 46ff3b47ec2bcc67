package redisx

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/acme/secretsbroker/broker"
)

// Record keys name their owner ("rt:<user>/<id>"; "/" is in no user id):
// another user's id is a missing key, read and answered exactly like an
// unknown one, so neither the record's body nor its size is touched before
// the owner check (no timing oracle on ids).
func (c *Client) runtimeKey(user, id string) string    { return c.key("rt:", user, "/", id) }
func (c *Client) runtimeIndex(user string) string      { return c.key("rtidx:", user) }
func (c *Client) evaluationKey(user, id string) string { return c.key("ev:", user, "/", id) }
func (c *Client) accessorKey(sandbox string) string {
	return c.key("acc:", sandbox)
}

// PutRuntime creates or replaces a runtime record for Options.RecordTTL and
// adds it to its user's index. The sandbox's bootstrap is never stored.
// Errors: invalid (no id or user id), unavailable, internal.
func (c *Client) PutRuntime(ctx context.Context, r broker.Runtime) error {
	doc, err := broker.EncodeRuntime(r)
	if err != nil {
		return err
	}
	ctx, cancel := c.op(ctx)
	defer cancel()
	ttl := c.opts.RecordTTL
	now := time.Now()
	idx := c.runtimeIndex(r.UserID)
	_, err = c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, c.runtimeKey(r.UserID, r.ID), doc, ttl)
		p.ZAdd(ctx, idx, redis.Z{Score: float64(now.Add(ttl).UnixMilli()), Member: r.ID})
		p.ZRemRangeByScore(ctx, idx, "-inf", "("+strconv.FormatInt(now.UnixMilli(), 10))
		p.PExpire(ctx, idx, ttl)
		return nil
	})
	return mapErr(err)
}

// GetRuntime returns the user's runtime. Errors: not_found (absent, expired
// or another user's: the same error), unavailable, internal.
func (c *Client) GetRuntime(ctx context.Context, userID, id string) (broker.Runtime, error) {
	return getRecord(ctx, c, c.runtimeKey(userID, id), userID, broker.ErrRuntimeNotFound, broker.DecodeRuntime)
}

// getRecord reads and decodes the record at key (a runtime or an
// evaluation); notFound answers an absent, expired or another user's one.
func getRecord[T interface{ Owner() string }](ctx context.Context, c *Client, key, userID string, notFound error, decode func([]byte) (T, error)) (T, error) {
	var zero T
	ctx, cancel := c.op(ctx)
	defer cancel()
	b, err := c.rdb.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return zero, notFound
	}
	if err != nil {
		return zero, mapErr(err)
	}
	r, err := decode(b)
	if err != nil {
		return zero, err
	}
	if r.Owner() != userID {
		return zero, notFound
	}
	return r, nil
}

// ListRuntimes returns the user's live runtimes, oldest first (by CreatedAt,
// then id), reading the user's index and then the records in one MGET.
// Index entries whose record is gone are dropped. Errors: unavailable, internal.
func (c *Client) ListRuntimes(ctx context.Context, userID string) ([]broker.Runtime, error) {
	ctx, cancel := c.op(ctx)
	defer cancel()
	idx := c.runtimeIndex(userID)
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	ids, err := c.rdb.ZRangeByScore(ctx, idx, &redis.ZRangeBy{Min: now, Max: "+inf"}).Result()
	if err != nil {
		return nil, mapErr(err)
	}
	out := make([]broker.Runtime, 0, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = c.runtimeKey(userID, id)
	}
	vals, err := c.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, mapErr(err)
	}
	var stale []any
	for i, v := range vals {
		s, ok := v.(string)
		if !ok { // expired or deleted since it was indexed
			stale = append(stale, ids[i])
			continue
		}
		r, err := broker.DecodeRuntime([]byte(s))
		if err != nil {
			return nil, err
		}
		if r.UserID != userID {
			stale = append(stale, ids[i])
			continue
		}
		out = append(out, r)
	}
	if len(stale) > 0 {
		if err := c.rdb.ZRem(ctx, idx, stale...).Err(); err != nil {
			c.log.Warn().Err(err).Int("stale", len(stale)).Msg("could not prune the runtime index")
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

// DeleteRuntime removes the user's runtime (its key names the owner).
// Errors: not_found (absent, expired or another user's), unavailable, internal.
func (c *Client) DeleteRuntime(ctx context.Context, userID, id string) error {
	ctx, cancel := c.op(ctx)
	defer cancel()
	n, err := c.scripts.deleteRuntime.Run(ctx, c.rdb,
		[]string{c.runtimeKey(userID, id), c.runtimeIndex(userID)}, id).Int()
	if err != nil {
		return mapErr(err)
	}
	if n == 0 {
		return broker.ErrRuntimeNotFound
	}
	return nil
}

// PutEvaluation creates or replaces an evaluation record for
// Options.RecordTTL, without any bootstrap. Errors: invalid, unavailable, internal.
func (c *Client) PutEvaluation(ctx context.Context, e broker.Evaluation) error {
	doc, err := broker.EncodeEvaluation(e)
	if err != nil {
		return err
	}
	ctx, cancel := c.op(ctx)
	defer cancel()
	return mapErr(c.rdb.Set(ctx, c.evaluationKey(e.UserID, e.ID), doc, c.opts.RecordTTL).Err())
}

// GetEvaluation returns the user's evaluation. Errors: not_found (absent,
// expired or another user's), unavailable, internal.
func (c *Client) GetEvaluation(ctx context.Context, userID, id string) (broker.Evaluation, error) {
	return getRecord(ctx, c, c.evaluationKey(userID, id), userID, broker.ErrEvaluationNotFound, broker.DecodeEvaluation)
}

// PutAccessor records sandboxID -> wrapping accessor for ttl (the token's
// wrap TTL). Errors: invalid (empty sandbox id or accessor, ttl <= 0),
// unavailable, internal.
func (c *Client) PutAccessor(ctx context.Context, sandboxID, accessor string, ttl time.Duration) error {
	if sandboxID == "" || accessor == "" || ttl <= 0 {
		return broker.Errorf(broker.CodeInvalid, "accessor record needs a sandbox id, an accessor and a positive ttl")
	}
	ctx, cancel := c.op(ctx)
	defer cancel()
	return mapErr(c.rdb.Set(ctx, c.accessorKey(sandboxID), accessor, ttl).Err())
}

// TakeAccessor returns and forgets the accessor (GETDEL, atomic); ok is false
// when none is recorded (never, expired or already taken). Errors: unavailable, internal.
func (c *Client) TakeAccessor(ctx context.Context, sandboxID string) (string, bool, error) {
	ctx, cancel := c.op(ctx)
	defer cancel()
	acc, err := c.rdb.GetDel(ctx, c.accessorKey(sandboxID)).Result()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, mapErr(err)
	}
	return acc, true, nil
}
