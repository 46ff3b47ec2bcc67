package testenv_test

import (
	"os"
	"testing"

	"github.com/acme/secretsbroker/internal/testenv"
)

var env testenv.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	env.Close()
	os.Exit(code)
}

func TestSharedReturnsOneServerPerPackage(t *testing.T) {
	var a, b *testenv.Vault
	t.Run("first", func(t *testing.T) { a = env.Vault(t) })
	t.Run("second", func(t *testing.T) { b = env.Vault(t) })
	if a == nil || a != b {
		t.Fatalf("Shared.Vault gave %p then %p", a, b)
	}
	// Still alive after the test that started it ended.
	mustVault(t, b, 200, "GET", "/v1/sys/health", nil)
	r1, r2 := env.Redis(t), env.Redis(t)
	if r1 != r2 {
		t.Fatal("Shared.Redis started two servers")
	}
	if got, err := redisCmd(r1.Addr, "PING"); err != nil || got != "+PONG" {
		t.Fatalf("PING: %q %v", got, err)
	}
}
