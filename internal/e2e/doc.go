// Package e2e holds end-to-end tests that run every real process of the
// system together: Vault and Redis from internal/testenv, and the brokerd,
// egressd and sandbox-init binaries, with HTTPS upstreams the tests start.
// It has no code of its own.
package e2e
