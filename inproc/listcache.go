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
// Update or Invalidate. It must be far longer than any Get..Put window.
const genTTL = 24 * time.Hour

// ListCache caches each user's secret list (metadata only) for a TTL.
//
// Stamp protocol (as redisx's): every user has a generation, bumped by each
// Update and Invalidate. Get answers the current generation as the stamp,
// and Put stores the list only while the generation still equals the
// stamp, so a list read before a concurrent write is never cached after
// that write's Update or Invalidate. Update changes the cached list in
// place only when both the generation and the list's own tag still equal
// the stamp the writer read before its store write; otherwise it drops the
// list. All of it under one mutex. Safe for concurrent use.
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
	// docs is the cached list, one JSON document per secret id (as redisx
	// keeps it); nil when nothing is cached.
	docs       map[string]cachedSecret
	docGen     uint64
	docExpires time.Time
}

type cachedSecret struct {
	version int
	doc     []byte
}

var _ broker.ListCache = (*ListCache)(nil)

func newListCache(now func() time.Time, ttl time.Duration) *ListCache {
	return &ListCache{now: now, ttl: ttl, users: make(map[string]*listEntry), lastSweep: now()}
}

// Get returns the cached list sorted by name and the stamp to hand to Put.
// Errors: internal.
func (c *ListCache) Get(_ context.Context, userID string) ([]broker.Secret, string, bool, error) {
	c.mu.Lock()
	now := c.now()
	e := c.liveLocked(userID, now)
	var gen uint64
	var docs [][]byte
	hit := false
	if e != nil {
		gen = e.gen
		if e.docs != nil && e.docGen == e.gen && now.Before(e.docExpires) {
			hit = true
			docs = make([][]byte, 0, len(e.docs))
			for _, d := range e.docs {
				docs = append(docs, d.doc)
			}
		}
	}
	c.mu.Unlock()
	stamp := strconv.FormatUint(gen, 10)
	if !hit {
		return nil, stamp, false, nil
	}
	secrets := make([]broker.Secret, len(docs))
	for i, d := range docs {
		if err := json.Unmarshal(d, &secrets[i]); err != nil {
			return nil, stamp, false, broker.WithCode(broker.CodeInternal, err, "decode cached secret list")
		}
	}
	broker.SortSecrets(secrets)
	return secrets, stamp, true, nil
}

// Put caches secrets for the list cache TTL if no Update or Invalidate
// happened since the Get that returned stamp; otherwise it does nothing.
// Errors: internal.
func (c *ListCache) Put(_ context.Context, userID, stamp string, secrets []broker.Secret) error {
	docs := make(map[string]cachedSecret, len(secrets))
	for _, sec := range secrets {
		d, err := json.Marshal(sec)
		if err != nil {
			return broker.WithCode(broker.CodeInternal, err, "encode secret list")
		}
		docs[sec.ID] = cachedSecret{sec.Version, d}
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
	e.docs, e.docGen, e.docExpires = docs, gen, now.Add(c.ttl)
	return nil
}

// Stamp answers the user's current generation. No errors.
func (c *ListCache) Stamp(_ context.Context, userID string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var gen uint64
	if e := c.liveLocked(userID, c.now()); e != nil {
		gen = e.gen
	}
	return strconv.FormatUint(gen, 10), nil
}

// Update applies change to the cached list in place when the generation
// and the list's tag both still equal stamp, else drops the list; either
// way it bumps the generation. The list keeps the expiry of its Put.
// Errors: internal.
func (c *ListCache) Update(_ context.Context, userID, stamp string, change broker.ListChange) error {
	var doc []byte
	if !change.Deleted {
		var err error
		if doc, err = json.Marshal(change.Secret); err != nil {
			return broker.WithCode(broker.CodeInternal, err, "encode secret")
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	c.sweepLocked(now)
	e := c.liveLocked(userID, now)
	if e == nil {
		e = &listEntry{}
		c.users[userID] = e
	}
	inPlace := strconv.FormatUint(e.gen, 10) == stamp && e.docs != nil &&
		e.docGen == e.gen && now.Before(e.docExpires)
	e.gen++
	e.genExpires = now.Add(genTTL)
	if !inPlace {
		e.docs = nil
		return nil
	}
	e.docGen = e.gen
	id := change.Secret.ID
	switch cur, ok := e.docs[id]; {
	case change.Deleted:
		delete(e.docs, id)
	case !ok || cur.version <= change.Secret.Version:
		e.docs[id] = cachedSecret{change.Secret.Version, doc}
	}
	return nil
}

// Invalidate drops the user's cached list and bumps the generation, so that
// a Put or Update with an older stamp changes nothing. No errors.
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
	e.docs = nil
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
	docDead := e.docs == nil || !now.Before(e.docExpires)
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
