package redisx

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/acme/secretsbroker/broker"
)

// genTTL is how long a user's generation counter outlives its last
// Invalidate. It must be far longer than any Get..Put window.
const genTTL = 24 * time.Hour

// ListCache caches each user's secret list (metadata only, never a value)
// for Options.ListCacheTTL.
//
// Stamp protocol: lcgen:<user> is a generation counter INCR'd by Invalidate.
// Get answers the generation as the stamp; Put stores the list (tagged with
// that generation) only while the counter still equals the stamp, checked
// and written atomically by a script. A list read before a concurrent write
// is therefore never cached after that write's Invalidate, on any replica.
type ListCache struct{ c *Client }

var _ broker.ListCache = (*ListCache)(nil)

type listDoc struct {
	Gen     string          `json:"gen"`
	Secrets []broker.Secret `json:"secrets"`
}

func (l *ListCache) keys(userID string) (gen, list string) {
	return l.c.key("lcgen:", userID), l.c.key("lc:", userID)
}

// Get returns the cached list and the stamp to hand to Put, in one round
// trip. Errors: unavailable, internal.
func (l *ListCache) Get(ctx context.Context, userID string) ([]broker.Secret, string, bool, error) {
	ctx, cancel := l.c.op(ctx)
	defer cancel()
	genKey, listKey := l.keys(userID)
	vals, err := l.c.rdb.MGet(ctx, genKey, listKey).Result()
	if err != nil {
		return nil, "", false, mapErr(err)
	}
	stamp := "0"
	if g, ok := vals[0].(string); ok {
		stamp = g
	}
	s, ok := vals[1].(string)
	if !ok {
		return nil, stamp, false, nil
	}
	var d listDoc
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		return nil, stamp, false, broker.WithCode(broker.CodeInternal, err, "decode cached secret list")
	}
	if d.Gen != stamp {
		return nil, stamp, false, nil
	}
	return d.Secrets, stamp, true, nil
}

// Put caches secrets if no Invalidate happened since the Get that returned
// stamp; otherwise it does nothing. Errors: unavailable, internal.
func (l *ListCache) Put(ctx context.Context, userID, stamp string, secrets []broker.Secret) error {
	doc, err := json.Marshal(listDoc{Gen: stamp, Secrets: secrets})
	if err != nil {
		return broker.WithCode(broker.CodeInternal, err, "encode secret list")
	}
	ctx, cancel := l.c.op(ctx)
	defer cancel()
	genKey, listKey := l.keys(userID)
	err = l.c.scripts.putList.Run(ctx, l.c.rdb, []string{genKey, listKey},
		stamp, doc, l.c.opts.ListCacheTTL.Milliseconds()).Err()
	if errors.Is(err, redis.Nil) {
		err = nil
	}
	return mapErr(err)
}

// Invalidate bumps the user's generation and drops the cached list.
// Errors: unavailable, internal.
func (l *ListCache) Invalidate(ctx context.Context, userID string) error {
	ctx, cancel := l.c.op(ctx)
	defer cancel()
	genKey, listKey := l.keys(userID)
	_, err := l.c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Incr(ctx, genKey)
		p.PExpire(ctx, genKey, genTTL)
		p.Del(ctx, listKey)
		return nil
	})
	return mapErr(err)
}
