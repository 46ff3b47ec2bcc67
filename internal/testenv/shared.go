package testenv

import (
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

// Shared starts one dev Vault and one Redis for all the tests of a package, on first use,
// and keeps them until Close. The zero value is ready to use:
//
//	var env testenv.Shared
//	func TestMain(m *testing.M) { code := m.Run(); env.Close(); os.Exit(code) }
//
// Without Close the servers still die with the test binary, but temp dirs stay behind.
// If starting fails, every later caller is skipped (or failed) with the same message
// instead of trying again. Tests must not Stop or Seal shared servers.
type Shared struct {
	mu       sync.Mutex
	vault    *Vault
	redis    *Redis
	vaultErr *outcome
	redisErr *outcome
	cleanups []func()
}

// outcome is how a failed start ended: skipped or failed, and why.
type outcome struct {
	skip bool
	msg  string
}

// Vault returns the package's dev Vault, starting it on first use.
func (s *Shared) Vault(t testing.TB) *Vault {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.vault == nil {
		s.replay(t, s.vaultErr)
		st := &sharedTB{t: t, s: s}
		defer func() { s.vaultErr = st.outcome }()
		s.vault = startVault(st, false)
	}
	return s.vault
}

// Redis returns the package's Redis, starting it on first use.
func (s *Shared) Redis(t testing.TB) *Redis {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.redis == nil {
		s.replay(t, s.redisErr)
		st := &sharedTB{t: t, s: s}
		defer func() { s.redisErr = st.outcome }()
		s.redis = startRedis(st)
	}
	return s.redis
}

// Close stops the servers, removes their temp dirs and the binaries built
// by Command.
func (s *Shared) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.cleanups) - 1; i >= 0; i-- {
		s.cleanups[i]()
	}
	s.cleanups, s.vault, s.redis = nil, nil, nil
	RemoveBuilds()
}

func (s *Shared) replay(t testing.TB, o *outcome) {
	t.Helper()
	switch {
	case o == nil:
	case o.skip:
		t.Skip(o.msg)
	default:
		t.Fatal(o.msg)
	}
}

// sharedTB runs a start on behalf of the calling test but defers cleanups to Shared.Close.
type sharedTB struct {
	t       testing.TB
	s       *Shared
	outcome *outcome
}

func (st *sharedTB) Helper()                      { st.t.Helper() }
func (st *sharedTB) Logf(format string, a ...any) { st.t.Helper(); st.t.Logf(format, a...) }
func (st *sharedTB) Failed() bool                 { return false }
func (st *sharedTB) Cleanup(f func())             { st.s.cleanups = append(st.s.cleanups, f) }

func (st *sharedTB) Fatalf(format string, a ...any) {
	st.t.Helper()
	st.outcome = &outcome{msg: fmt.Sprintf(format, a...)}
	st.t.Fatal(st.outcome.msg)
}

func (st *sharedTB) Skipf(format string, a ...any) {
	st.t.Helper()
	st.outcome = &outcome{skip: true, msg: fmt.Sprintf(format, a...)}
	st.t.Skip(st.outcome.msg)
}

func (st *sharedTB) TempDir() string {
	dir, err := os.MkdirTemp("", "testenv-")
	if err != nil {
		st.Fatalf("testenv: temp dir: %v", err)
	}
	st.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func (st *sharedTB) Deadline() (time.Time, bool) {
	if d, ok := st.t.(interface{ Deadline() (time.Time, bool) }); ok {
		return d.Deadline()
	}
	return time.Time{}, false
}
