// Package client is the Go SDK of the secrets broker's HTTP API (/api/v1).
//
// A Client calls one broker with one API key:
//
//	c, err := client.New("https://broker.example:8443", os.Getenv("BROKER_API_KEY"))
//	sec, err := c.CreateSecret(ctx, client.CreateSecretRequest{Name: "OPENAI_API_KEY", Value: v},
//		client.IdempotencyKey(requestID))
//
// There is one typed method per route: secrets (ListSecrets, CreateSecret,
// GetSecret, UpdateSecret, DeleteSecret, ListVersions, Rollback), presets
// (ListPresets, CreateFromPreset), provisioning (CreateRuntime, ListRuntimes,
// GetRuntime, RestartRuntime, DeleteRuntime, CreateEvaluation,
// GetEvaluation) and the unauthenticated probes (Healthz, Readyz, Metrics,
// OpenAPI). The objects are package broker's types, which import only the
// standard library; importing client pulls in nothing else.
//
// # Errors
//
// A non-2xx answer is an *APIError: the broker's error envelope (type,
// detail, field errors), the HTTP status, Retry-After and request id. It
// unwraps to a *broker.Error carrying the code the broker mapped to that
// status, so callers branch on codes, not on text:
//
//	if broker.IsCode(err, broker.CodeConflict) { ... }      // 409: the name exists
//	var ae *client.APIError
//	if errors.As(err, &ae) && ae.Code == broker.CodeInvalid { // 422: ae.Fields
//
// Codes by status: 422 and 413 invalid, 404 not_found, 409 conflict, 401
// unauthenticated, 403 forbidden, 429 and 503 unavailable, 500 internal. A
// request that got no answer (connection refused, timeout, context ended) is
// a *TransportError, which unwraps to its cause and to code unavailable.
// No error ever contains the API key or a secret value.
//
// # Timeouts and retries
//
// Every call takes a context. The default *http.Client has DefaultTimeout
// per attempt (WithTimeout changes it; WithHTTPClient brings your own) and
// never follows a redirect, so the key only goes to the configured broker.
// Only safe requests are retried: GETs, and POSTs sent with an
// IdempotencyKey, after a transport failure or a 503, at most
// Retry.Attempts times with exponential backoff, never past the context's
// deadline (WithRetry, DefaultRetry). PUT, DELETE and POSTs without a key
// are sent once. The broker replays the answer of a keyed POST without its
// bootstrap tokens: a runtime whose creating answer was lost must be
// restarted to get a new token. Idempotency needs a broker with Redis.
//
// Do sends one request and returns the raw answer whatever its status, for
// callers that check the wire (tests, probes); it is never retried.
package client
