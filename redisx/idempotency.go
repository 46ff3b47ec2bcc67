package redisx

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/acme/secretsbroker/broker"
)

// Idempotency remembers the first response to an Idempotency-Key (already
// hashed by the caller). Begin claims the key with SET NX and a "pending"
// marker for a TTL; Complete replaces the marker with the response; Release
// drops the marker (never a completed response).
type Idempotency struct{ c *Client }

var _ broker.IdempotencyStore = (*Idempotency)(nil)

// pendingMarker is the value of a claimed, unfinished key.
const pendingMarker = `{"state":"pending"}`

type idemDoc struct {
	State    string                 `json:"state"`
	Response *broker.StoredResponse `json:"response,omitempty"`
}

func (s *Idempotency) key(k string) string { return s.c.key("idem:", k) }

// Begin claims key for ttl (claimed=true), or returns the completed response
// stored under it (claimed=false), atomically. Errors: conflict (another
// request holds the key and has not finished), invalid (ttl < 1 ms),
// unavailable, internal.
func (s *Idempotency) Begin(ctx context.Context, key string, ttl time.Duration) (*broker.StoredResponse, bool, error) {
	if ttl < time.Millisecond {
		return nil, false, broker.Errorf(broker.CodeInvalid, "idempotency ttl must be positive")
	}
	ctx, cancel := s.c.op(ctx)
	defer cancel()
	v, err := s.c.scripts.begin.Run(ctx, s.c.rdb, []string{s.key(key)}, pendingMarker, ttl.Milliseconds()).Result()
	if err != nil {
		return nil, false, mapErr(err)
	}
	switch v := v.(type) {
	case int64:
		return nil, true, nil
	case string:
		var d idemDoc
		if err := json.Unmarshal([]byte(v), &d); err != nil {
			return nil, false, broker.WithCode(broker.CodeInternal, err, "decode idempotency record")
		}
		if d.State != "done" || d.Response == nil {
			return nil, false, broker.ErrIdempotencyInProgress
		}
		return d.Response, false, nil
	default:
		return nil, false, broker.Errorf(broker.CodeInternal, "unexpected idempotency script answer")
	}
}

// Complete stores resp under key for ttl, replacing the claim.
// Errors: invalid (ttl < 1 ms), unavailable, internal.
func (s *Idempotency) Complete(ctx context.Context, key string, resp broker.StoredResponse, ttl time.Duration) error {
	if ttl < time.Millisecond {
		return broker.Errorf(broker.CodeInvalid, "idempotency ttl must be positive")
	}
	doc, err := json.Marshal(idemDoc{State: "done", Response: &resp})
	if err != nil {
		return broker.WithCode(broker.CodeInternal, err, "encode idempotency record")
	}
	ctx, cancel := s.c.op(ctx)
	defer cancel()
	return mapErr(s.c.rdb.Set(ctx, s.key(key), doc, ttl).Err())
}

// Release drops a pending claim so that a retry can claim the key again; a
// completed response is kept. Errors: unavailable, internal.
func (s *Idempotency) Release(ctx context.Context, key string) error {
	ctx, cancel := s.c.op(ctx)
	defer cancel()
	err := s.c.scripts.release.Run(ctx, s.c.rdb, []string{s.key(key)}, pendingMarker).Err()
	if errors.Is(err, redis.Nil) {
		err = nil
	}
	return mapErr(err)
}
