package testenv

import (
	"fmt"
	"os"
	"testing"
)

// tb is the part of testing.TB the harness uses. Shared supplies its own implementation
// so that servers it starts outlive the test that first asked for them.
type tb interface {
	Helper()
	Logf(format string, args ...any)
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
	Cleanup(func())
	TempDir() string
	Failed() bool
}

var _ tb = testing.TB(nil)

// RequireIntegration reports whether a missing Vault or Redis must fail tests rather than
// skip them (BROKER_REQUIRE_INTEGRATION=1).
func RequireIntegration() bool { return os.Getenv("BROKER_REQUIRE_INTEGRATION") == "1" }

// unavailable skips the test, or fails it when integration tests are required.
func unavailable(t tb, format string, args ...any) {
	t.Helper()
	report("skip", fmt.Sprintf(format, args...))
	if RequireIntegration() {
		t.Fatalf("testenv: "+format+" (BROKER_REQUIRE_INTEGRATION=1, so this is a failure)", args...)
		return
	}
	t.Skipf("testenv: "+format+"; skipping (set BROKER_REQUIRE_INTEGRATION=1 to fail instead)", args...)
}
