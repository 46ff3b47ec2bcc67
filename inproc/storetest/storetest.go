// Package storetest is the behavioural contract shared by the record store,
// list cache, idempotency store and limiter adapters (inproc and redisx):
// one table of behaviours run against each, so that a broker behaves the
// same with and without Redis.
package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/acme/secretsbroker/broker"
)

// Subject is one fresh, empty set of adapters under test.
type Subject struct {
	Records broker.RecordStore
	Lists   broker.ListCache
	// OtherLists is a second handle on the same list cache, as another
	// replica holds it (a second Redis client); nil: Lists again.
	OtherLists broker.ListCache
	Idem       broker.IdempotencyStore
	// NewLimiter returns a limiter of rate events per period with burst.
	NewLimiter func(t *testing.T, rate int, period time.Duration, burst int) broker.Limiter
	// RecordTTL and ListTTL are the TTLs the subject was configured with; the
	// contract waits past them, so for a real server they should be short (~1 s).
	RecordTTL time.Duration
	ListTTL   time.Duration
	// Advance lets d pass: a fake clock moves, or the test sleeps.
	Advance func(t *testing.T, d time.Duration)
}

// Factory returns a fresh Subject; it is called once per behaviour.
type Factory func(t *testing.T) Subject

// Run runs every behaviour of the contract against subjects made by newSubject.
func Run(t *testing.T, newSubject Factory) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.run(t, newSubject(t))
		})
	}
}

// RunRecords runs the record store behaviours only, without the record TTL:
// for a RecordStore that is the system of record (vaultx.Records keeps a
// record until it is deleted). Only Records, RecordTTL (the accessor TTL the
// contract waits past) and Advance of the subject are used.
func RunRecords(t *testing.T, newSubject Factory) {
	for _, c := range cases {
		if !recordBehaviours[c.name] {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			c.run(t, newSubject(t))
		})
	}
}

type behaviour struct {
	name string
	run  func(t *testing.T, s Subject)
}

// recordBehaviours are the cases RunRecords runs.
var recordBehaviours = map[string]bool{
	"runtime round trip": true, "runtime replace": true, "runtime list and delete": true,
	"evaluation round trip": true, "user isolation": true, "accessor take once": true, "accessor ttl": true,
}

var cases = []behaviour{
	{"runtime round trip", runtimeRoundTrip},
	{"runtime replace", runtimeReplace},
	{"runtime list and delete", runtimeListDelete},
	{"evaluation round trip", evaluationRoundTrip},
	{"user isolation", userIsolation},
	{"record ttl", recordTTL},
	{"accessor take once", accessorTakeOnce},
	{"accessor ttl", accessorTTL},
	{"list cache stamp protocol", listCacheStamp},
	{"list cache isolation and ttl", listCacheIsolationTTL},
	{"list cache update in place", listCacheUpdate},
	{"list cache update with a stale stamp", listCacheUpdateStale},
	{"list cache concurrent writers", listCacheConcurrent},
	{"idempotency", idempotency},
	{"idempotency ttl", idempotencyTTL},
	{"idempotency concurrent begin", idempotencyConcurrent},
	{"limiter", limiter},
	{"limiter concurrent", limiterConcurrent},
	{"limiter peek", limiterPeek},
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func wantCode(t *testing.T, err error, code broker.Code, what string) {
	t.Helper()
	if got := broker.ErrorCode(err); got != code {
		t.Fatalf("%s: error code %q (%v), want %q", what, got, err, code)
	}
}

func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
