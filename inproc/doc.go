// Package inproc holds in-process equivalents of the Redis adapter (package
// redisx) for a broker running as a single replica: runtime and evaluation
// records, wrapping accessors, the per-user list cache, idempotency keys and
// per-key rate limits.
//
// Everything lives in maps guarded by mutexes, expires by TTL against an
// injected clock (so tests need no sleeps) and is swept lazily on writes, so
// memory stays bounded without background goroutines. Like redisx, it never
// stores a bootstrap token: Sandbox.Bootstrap is stripped before a record is
// kept, and records are kept as JSON so that callers never share memory with
// the store.
//
// Both packages pass the same behavioural contract (package
// inproc/storetest).
package inproc
