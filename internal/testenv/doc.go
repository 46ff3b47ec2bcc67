// Package testenv starts real Vault and Redis servers for integration tests.
//
// Each server runs as a child process on a free loopback port, writes its output to a
// log file (LogPath), and is killed when the test that started it ends (t.Cleanup, and
// on Linux also when the test binary dies). Where no binary is found but a Docker engine
// answers, the servers run as containers through testcontainers-go instead. When neither
// works the test is skipped with a message naming what is missing, or fails if
// RequireIntegration() (BROKER_REQUIRE_INTEGRATION=1, set by .ci/run).
//
// Vault binary: $VAULT_BIN, else `vault` on PATH, else the cached build that
// `scripts/get-vault.sh --no-build` finds. Tests never build Vault: `make test` (and
// `make vault`) run scripts/get-vault.sh, which builds it once, before go test starts.
// Redis: `redis-server` on PATH.
//
// Per test:
//
//	v := testenv.StartVault(t)   // dev mode, ~1-2 s, root token in v.Token
//	r := testenv.StartRedis(t)   // r.URL is redis://127.0.0.1:port/0
//
// Once per package (cheaper when many tests need a server but none stops or seals it):
//
//	var env testenv.Shared
//
//	func TestMain(m *testing.M) { code := m.Run(); env.Close(); os.Exit(code) }
//
//	func TestX(t *testing.T) { v := env.Vault(t); r := env.Redis(t); ... }
//
// Tests that Stop, Start, Seal or Unseal a server should start their own.
//
// Scale-out (each ~5-15 s to start, so share one per package where you can):
//
//	c := testenv.StartVaultCluster(t)  // 3 Raft nodes (retry_join) behind HAProxy; c.Addr is the proxy
//	s := testenv.StartRedisSentinel(t) // master, 2 replicas, 3 sentinels; s.SentinelAddrs, s.MasterName
//
// HAProxy (Debian's haproxy, /usr/sbin) health-checks GET /v1/sys/health and sends
// traffic only to the node that answers 200 (the active one). Kill, Freeze (SIGSTOP),
// Thaw and Restart act on one node; WaitActive waits for a new leader behind the proxy.
package testenv
