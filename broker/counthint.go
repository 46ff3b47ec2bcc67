package broker

import (
	"sync"
	"time"
)

// countHints lets a create skip counting the user's secrets (a Vault LIST)
// while this replica knows the user is far below MaxSecretsPerUser.
//
// A hint is an upper bound of the user's secrets as this replica saw them:
// the last count, plus every create started here since (counted before it
// runs, so concurrent creates are all included; a failed create leaves the
// bound higher, never lower). Deletes only make it more conservative. A hint
// is trusted for countHintTTL and only while the create keeps the user at or
// below half the cap; past that, every create counts. Creates on other
// replicas are not seen: within one TTL they can push a user past the cap by
// at most what they create there, which the per-key rate limit bounds (the
// count itself was never atomic with the create either).
type countHints struct {
	mu sync.Mutex
	m  map[string]countHint
}

type countHint struct {
	n  int // upper bound of the user's secrets, creates in flight included
	at time.Time
}

const (
	countHintTTL  = 10 * time.Second
	maxCountHints = 100_000 // when full, the map is cleared (cheap, rare)
)

func newCountHints() *countHints { return &countHints{m: map[string]countHint{}} }

// take reports whether a create by userID may skip counting; when it may, the
// create is added to the hint.
func (h *countHints) take(userID string, limit int, now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	e, ok := h.m[userID]
	if !ok || now.Before(e.at) || now.Sub(e.at) >= countHintTTL || 2*(e.n+1) > limit {
		return false
	}
	e.n++
	h.m[userID] = e
	return true
}

// counted records a fresh count of n secrets, plus the create about to run.
func (h *countHints) counted(userID string, n int, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.m) >= maxCountHints {
		clear(h.m)
	}
	h.m[userID] = countHint{n: n + 1, at: now}
}
