package inproc

import (
	"bytes"
	"context"
	"sync"
	"time"

	"github.com/acme/secretsbroker/broker"
)

// Idempotency remembers the first response to an Idempotency-Key (already
// hashed by the caller) for a TTL. A key is first claimed (pending), then
// completed with the response, or released if the request failed.
// Safe for concurrent use.
type Idempotency struct {
	now func() time.Time

	mu        sync.Mutex
	keys      map[string]idemEntry
	lastSweep time.Time
}

type idemEntry struct {
	done    bool
	resp    broker.StoredResponse
	expires time.Time
}

var _ broker.IdempotencyStore = (*Idempotency)(nil)

func newIdempotency(now func() time.Time) *Idempotency {
	return &Idempotency{now: now, keys: make(map[string]idemEntry), lastSweep: now()}
}

// Begin claims key for ttl (claimed=true), or returns the completed response
// stored under it (claimed=false). Errors: conflict (another request holds
// the key and has not finished), invalid (ttl <= 0).
func (s *Idempotency) Begin(_ context.Context, key string, ttl time.Duration) (*broker.StoredResponse, bool, error) {
	if ttl <= 0 {
		return nil, false, broker.Errorf(broker.CodeInvalid, "idempotency ttl must be positive")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.sweepLocked(now)
	if e, ok := s.keys[key]; ok && now.Before(e.expires) {
		if !e.done {
			return nil, false, broker.ErrIdempotencyInProgress
		}
		resp := e.resp
		resp.Body = bytes.Clone(resp.Body)
		return &resp, false, nil
	}
	s.keys[key] = idemEntry{expires: now.Add(ttl)}
	return nil, true, nil
}

// Complete stores resp under key for ttl, replacing the claim. Errors: invalid (ttl <= 0).
func (s *Idempotency) Complete(_ context.Context, key string, resp broker.StoredResponse, ttl time.Duration) error {
	if ttl <= 0 {
		return broker.Errorf(broker.CodeInvalid, "idempotency ttl must be positive")
	}
	resp.Body = bytes.Clone(resp.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[key] = idemEntry{done: true, resp: resp, expires: s.now().Add(ttl)}
	return nil
}

// Release drops a pending claim so that a retry can claim the key again. A
// completed response is kept. No errors.
func (s *Idempotency) Release(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.keys[key]; ok && !e.done {
		delete(s.keys, key)
	}
	return nil
}

func (s *Idempotency) sweepLocked(now time.Time) {
	if now.Sub(s.lastSweep) < sweepInterval {
		return
	}
	s.lastSweep = now
	for k, e := range s.keys {
		if !now.Before(e.expires) {
			delete(s.keys, k)
		}
	}
}
