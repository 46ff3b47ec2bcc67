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
// acknowledged writes lost (must be 0) and PASS or FAIL. RELIABILITY_SOAK
// (a duration, default 60s) sets the length of the 64-client load test;
// RELIABILITY_REPORT names a file the table is also written to.
package reliability
