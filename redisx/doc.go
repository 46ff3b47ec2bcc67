// Package redisx is the Redis adapter (go-redis v9) that lets several broker
// replicas behave as one: runtime and evaluation records and wrapping
// accessors (broker.RecordStore), the per-user secret list cache
// (broker.ListCache), idempotency keys (broker.IdempotencyStore), GCRA rate
// limits (broker.Limiter, go-redis/redis_rate) and a readiness probe
// (broker.Pinger).
//
// Keys, all under Options.Prefix (default "broker:"):
//
//	rt:<user id>/<runtime id>     runtime record, JSON, TTL Options.RecordTTL
//	rtidx:<user id>      sorted set of the user's runtime ids (score: expiry, unix ms)
//	ev:<user id>/<evaluation id>  evaluation record, JSON, TTL Options.RecordTTL
//	acc:<sandbox id>     wrapping token accessor, TTL = the token's wrap TTL
//	lcgen:<user id>      list cache generation (random start), INCR'd by every write's Update or Invalidate
//	lch:<user id>        cached secret list, a hash: secret id -> its metadata JSON (never a value),
//	                     "@gen" -> the generation it is current for; TTL Options.ListCacheTTL from the fill
//	idem:<key hash>      idempotency claim ("pending") or completed response
//	rate:<prefix>rl:<key hash>  GCRA state (redis_rate adds its own "rate:" in front)
//
// and one pub/sub channel per NoticedLimiter, <prefix>rl:<channel>, whose
// messages are the keys of events taken (brokerd: rl:authfail-notice, with
// messages "authfail:<client address>").
//
// Record keys name the owner, so another user's id is a missing key: the
// owner check costs the same as for an unknown id and never reads the body.
//
// Redis never receives a secret value, a token or an API key: the bootstrap
// of every sandbox is stripped before a record is written, and callers pass
// already-hashed keys for rate limits and idempotency.
//
// Errors: a refused connection, a timeout or a server that is loading or
// read-only answers broker.CodeUnavailable; anything else broker.CodeInternal.
// Every call is bounded by Options.OpTimeout. The package passes the same
// behavioural contract as package inproc (inproc/storetest).
package redisx
