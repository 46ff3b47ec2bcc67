// Package egressproxy is egressd's forward proxy: the egress side of egress
// delivery (docs/design.md, "Egress delivery"). A sandbox holds placeholders
// (broker.Placeholder) instead of values and sends its HTTPS traffic through
// this proxy with its own proxy credentials; the proxy swaps a placeholder in
// a request header for the secret's current value, only on requests of the
// placeholder's own sandbox to the hosts its secret belongs to, and scans the
// answers for the value (reflection) before the sandbox sees them.
//
// It is an adapter like handlers: it imports broker for the contract and
// reads records and values through Source, which cmd/egressd wires to vaultx
// behind a Cache (records at most EGRESS_RECORD_TTL, values at most
// EGRESS_VALUE_TTL, both in memory only).
//
// Why net/http and not elazarl/goproxy: the pieces needed are all in the
// standard library and each is small here. http.Server reads CONNECT and
// hands over the connection (Hijack); crypto/tls terminates an intercepted
// CONNECT with a leaf certificate minted from the egress CA (GetCertificate,
// cached); a second http.Server serves the decrypted connections, so HTTP/1.1
// keep-alive, chunked bodies and pipelining are net/http's own; and
// httputil.ReverseProxy forwards each request over an http.Transport that
// verifies the upstream's certificate and flushes every write (server-sent
// events stream). goproxy would wrap the same pieces, but its MITM path
// reads requests with its own loop, offers no per-connection state for the
// sandbox identity, and its response hooks buffer or need care to stream;
// the refusals, the tripwires and the streaming reflection scanner would be
// written against its handler chain instead of plain net/http types.
//
// Decisions:
//   - Missing or wrong proxy credentials, an unknown sandbox and an expired
//     one all answer 407 with Proxy-Authenticate: the credentials are no
//     longer good, whatever the reason (a restarted runtime, its egress
//     lifetime over).
//   - Every policy refusal answers 403 with a one-line plain-text reason;
//     Vault unreachable answers 503; an upstream failure 502.
//   - An intercepted connection re-checks the sandbox's record on every
//     request (cached at most the record TTL), so a revocation reaches
//     keep-alive connections too. A tunnel (not intercepted) is checked once,
//     at its CONNECT: what flows through it carries no substituted value.
//   - A placeholder in a URL query or a request body is never substituted;
//     the request is forwarded as it is (the placeholder is worthless
//     upstream) and an alert logged. A placeholder in a plain-HTTP request
//     (URL or headers) is refused before anything is sent; one found in a
//     plain-HTTP body aborts the upstream request.
//   - A substituted request is sent without Accept-Encoding, so the answer
//     comes uncompressed and the reflection scanner can read it.
package egressproxy
