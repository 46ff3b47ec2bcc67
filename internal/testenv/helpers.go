package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"
)

// Context returns a context that ends after d or when the test ends.
func Context(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// RandID returns prefix followed by 12 random hex digits: a name (mount,
// user, key) no other test uses.
func RandID(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// Main runs a package's tests (from its TestMain), closes the package's
// shared servers and exits with the tests' code.
func Main(m *testing.M, shared *Shared) {
	code := m.Run()
	shared.Close()
	os.Exit(code)
}
