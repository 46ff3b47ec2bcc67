package inproc

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"github.com/acme/secretsbroker/broker"
)

// genTTL is how long a user's generation counter outlives its last
// Invalidate. It must be far longer than any Get..Put window.
const genTTL = 24 * time.Hour

// ListCache caches each user's secret list (metadata only) for a TTL.
//
// Stamp protocol: every user has a generation, bumped by Invalidate. Get
// answers the current generation as the stamp, and Put stores the list only
// while the generation still equals the stamp, so a list read before a
// concurrent write is never cached after that write's Invalidate.
// Safe for concurrent use.
type ListCache struct {
	now func() time.Time
	ttl time.Duration

	mu        sync.Mutex
	users     map[string]*listEntry
	lastSweep time.Time
}

type listEntry struct {
	gen        uint64
	genExpires time.Time // zero while gen is 0 (never invalidated)
	doc        []byte    // JSON of the cached list; nil when nothing cached
	docGen     uint64
	docExpires time.Time
}

var _ broker.ListCache = (*ListCache)(nil)

func newListCache(now func() time.Time, ttl time.Duration) *ListCache {
	return &ListCache{now: now, ttl: ttl, users: make(map[string]*listEntry), lastSweep: now()}
}

// Get returns the cached list and the stamp to hand to Put. Errors: internal.
func (c *ListCache) Get(_ context.Context, userID string) ([]broker.Secret, string, bool, error) {
	c.mu.Lock()
	now := c.now()
	e := c.liveLocked(userID, now)
	var gen uint64
	var doc []byte
	if e != nil {
		gen = e.gen
		if e.doc != nil && e.docGen == e.gen && now.Before(e.docExpires) {
			doc = e.doc
		}
	}
	c.mu.Unlock()
	stamp := strconv.FormatUint(gen, 10)
	if doc == nil {
		return nil, stamp, false, nil
	}
	var secrets []broker.Secret
	if err := json.Unmarshal(doc, &secrets); err != nil {
		return nil, stamp, false, broker.WithCode(broker.CodeInternal, err, "decode cached secret list")
	}
	return secrets, stamp, true, nil
}

// Put caches secrets for the list cache TTL if no Invalidate happened since
// the Get that returned stamp; otherwise it does nothing. Errors: internal.
func (c *ListCache) Put(_ context.Context, userID, stamp string, secrets []broker.Secret) error {
	doc, err := json.Marshal(secrets)
	if err != nil {
		return broker.WithCode(broker.CodeInternal, err, "encode secret list")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	c.sweepLocked(now)
	e := c.liveLocked(userID, now)
	var gen uint64
	if e != nil {
		gen = e.gen
	}
	if strconv.FormatUint(gen, 10) != stamp {
		return nil
	}
	if e == nil {
		e = &listEntry{}
		c.users[userID] = e
	}
	e.doc, e.docGen, e.docExpires = doc, gen, now.Add(c.ttl)
	return nil
}

// Invalidate drops the user's cached list and bumps the generation, so that
// a Put with an older stamp is ignored. No errors.
func (c *ListCache) Invalidate(_ context.Context, userID string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	c.sweepLocked(now)
	e := c.liveLocked(userID, now)
	if e == nil {
		e = &listEntry{}
		c.users[userID] = e
	}
	e.gen++
	e.genExpires = now.Add(genTTL)
	e.doc = nil
	return nil
}

// liveLocked returns the user's entry, dropping it first if everything in it expired.
func (c *ListCache) liveLocked(userID string, now time.Time) *listEntry {
	e := c.users[userID]
	if e != nil && e.gen != 0 && !now.Before(e.genExpires) {
		// The counter expired, as Redis would drop it: back to generation 0.
		e.gen, e.genExpires = 0, time.Time{}
	}
	if e != nil && e.expired(now) {
		delete(c.users, userID)
		return nil
	}
	return e
}

// expired reports whether neither the generation nor the cached list is alive.
func (e *listEntry) expired(now time.Time) bool {
	genDead := e.gen == 0 || !now.Before(e.genExpires)
	docDead := e.doc == nil || !now.Before(e.docExpires)
	return genDead && docDead
}

func (c *ListCache) sweepLocked(now time.Time) {
	if now.Sub(c.lastSweep) < sweepInterval {
		return
	}
	c.lastSweep = now
	for id, e := range c.users {
		if e.expired(now) {
			delete(c.users, id)
		}
	}
}
