// Package auditlog reads Vault file audit device logs (one JSON object per
// line) and turns them into a timeline of what the secrets broker, its users
// and their sandboxes did, and into alerts that need a person.
//
// A Stream takes the log's bytes (it is an io.Writer), parses each line
// (ParseLine; a malformed line is counted, never fatal), pairs request and
// response entries by request.id, classifies each call (Action) from its path
// and operation, extracts who and what it was for (the audited X-Broker-User,
// X-Request-Id, X-Broker-Runtime and X-Broker-Sandbox headers, or the
// users/<user>/... and sandboxes/<id> paths of the broker's KV layout), and
// links bootstrap tokens: a wrapped read's wrap_info (HMAC'd token and
// accessor, creation path, TTL) to the lookups, unwraps and revocations of the
// same token, which carry no broker headers of their own.
//
// Calls sharing one X-Request-Id (one broker API request) are labelled with
// the request's action: every call of a secret rotation is "rotate", every
// call of a runtime provisioning is "provision"; each entry keeps its own
// classification in Call.
//
// Alerts: failed unwraps and refused lookups (a replay, an expired, revoked or
// unknown token), bootstrap tokens that expired without being unwrapped or
// revoked, permission denials, and the creation-path failures and refused
// tokens sandbox-init reports in its own log (ParseSandboxLog).
//
// Paths are read with package layout, the one definition of the broker's KV
// layout. The package uses only the standard library (and layout, which does
// too) and never sees a secret value: Vault's audit log holds HMACs of
// values, tokens and accessors.
package auditlog
