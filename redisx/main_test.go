package redisx_test

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/acme/secretsbroker/internal/testenv"
	"github.com/acme/secretsbroker/redisx"
)

// env is one real redis-server for the tests that do not stop it; each test
// isolates itself with its own key prefix.
var env testenv.Shared

func TestMain(m *testing.M) {
	// The outage tests make go-redis log every refused dial; keep errors only.
	redisx.RouteLibraryLogs(zerolog.New(os.Stderr).Level(zerolog.ErrorLevel))
	code := m.Run()
	env.Close()
	os.Exit(code)
}

var prefixSeq atomic.Int64

// uniquePrefix returns a key prefix no other test uses.
func uniquePrefix() string { return fmt.Sprintf("t%d-%d:", os.Getpid(), prefixSeq.Add(1)) }

// newClient returns a client of url, closed when the test ends.
func newClient(t *testing.T, url string, opts redisx.Options) *redisx.Client {
	t.Helper()
	c, err := redisx.New(context.Background(), url, opts, zerolog.New(zerolog.NewTestWriter(t)))
	if err != nil {
		t.Fatalf("redisx.New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// rawClient is a plain go-redis client for looking at what the adapter stored.
func rawClient(t *testing.T, addr string) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 2 * time.Second,
		ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}
