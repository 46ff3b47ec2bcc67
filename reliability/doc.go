// Package reliability holds the broker's fault, load and soak tests. They run
// real processes that the tests start, stop, kill and seal: Vault with
// persistent Raft storage, redis-server, and brokerd built with `go build` and
// run as a separate process (so it can be killed with SIGKILL).
//
// The tests carry the build tag "reliability" so that `make test` stays fast;
// run them with
//
//	make reliability            # or: cd reliability && go test -tags reliability -count=1 -timeout 30m
//
// which prints one table row per scenario: requests sent, errors while the
// fault lasted, the slowest answer, time to recover after the fault ended,
// acknowledged writes lost (must be 0) and PASS or FAIL.
//
// The scale-out rows (cluster_test.go) run a 3-node Vault Raft cluster behind
// HAProxy, Redis with Sentinel and three brokerd replicas (internal/testenv):
// the active node SIGKILLed, the active node frozen 20 s (SIGSTOP, SIGCONT),
// the Redis master killed, one broker replica killed, and a standby cut off
// for 15 s (each node in a network namespace of its own: needs root, else the
// row is skipped). Their notes give the election window, when the errors fell
// (relative to the fault) and writes acknowledged vs read back. RELIABILITY_SOAK
// (a duration, default 60s) sets the length of the 64-client load test;
// RELIABILITY_REPORT names a file the table is also written to.
package reliability
