package testenv

import (
	"fmt"
	"strings"
	"testing"
)

// recTB records how a start gave up, without ending the calling test.
type recTB struct {
	testing.TB
	skipped, fatal string
}

func (r *recTB) Skipf(f string, a ...any)  { r.skipped = fmt.Sprintf(f, a...) }
func (r *recTB) Fatalf(f string, a ...any) { r.fatal = fmt.Sprintf(f, a...) }
func (r *recTB) Failed() bool              { return false }

func TestMissingVaultSkipsOrFails(t *testing.T) {
	t.Setenv("BROKER_TESTENV_REPORT", "") // these skips are on purpose
	t.Setenv("VAULT_BIN", "/nonexistent/vault")
	t.Setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
	for _, require := range []string{"", "1"} {
		t.Run("require="+require, func(t *testing.T) {
			t.Setenv("BROKER_REQUIRE_INTEGRATION", require)
			rec := &recTB{TB: t}
			if v := startVault(rec, false); v != nil {
				t.Fatal("got a Vault from a missing binary")
			}
			got := rec.skipped
			if require == "1" {
				got = rec.fatal
				if rec.skipped != "" {
					t.Fatalf("skipped although integration is required: %s", rec.skipped)
				}
			}
			if !strings.Contains(got, "/nonexistent/vault") || !strings.Contains(got, "Docker") {
				t.Fatalf("message does not name what is missing: %q", got)
			}
		})
	}
}

func TestRequireIntegration(t *testing.T) {
	t.Setenv("BROKER_REQUIRE_INTEGRATION", "1")
	if !RequireIntegration() {
		t.Fatal("want true")
	}
	t.Setenv("BROKER_REQUIRE_INTEGRATION", "true")
	if RequireIntegration() {
		t.Fatal("only \"1\" requires integration")
	}
}
