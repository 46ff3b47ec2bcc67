// Package vaultx is the broker's HashiCorp Vault adapter: it implements
// broker.SecretStore, broker.Crypto, broker.Bootstrapper, broker.APIKeyStore,
// broker.EgressStore and broker.Pinger on top of KV v2, transit, response
// wrapping and the token store, configures Vault for the broker and egressd
// (Setup), gives egressd its reads (EgressSandbox, EgressPlaceholder,
// CurrentValue, in egress.go), and provides the Vault primitives
// of the key rotation workflow (rotation.Vault; the workflow itself lives in
// package rotation). Paths follow package layout.
//
// Only this package reads Vault status codes: every error it returns is a
// *broker.Error whose Message is safe to show (never a value, a token or an API
// key); Vault's own error text is kept in Err, for logs. Callers that hold a
// raw api error (sandbox-init) classify it with ClassifyCall.
//
// It is the one writer of a secret's custom metadata (customMetadata, via
// CreateSecret, describeVersion and SetEgressHosts).
//
// Every request carries the audited headers X-Broker-User, X-Request-Id,
// X-Broker-Runtime and X-Broker-Sandbox taken from broker.AuditFrom(ctx).
// Requests are built per call (api.Client.NewRequest), so concurrent calls
// never share or mutate headers.
//
// The package never reads the environment: the cmd layer fills Config.
package vaultx
