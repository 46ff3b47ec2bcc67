package scripts

import (
	"os/exec"
	"strings"
	"testing"
)

// `make test` must get Vault (scripts/get-vault.sh, which may build it) before go test
// starts, so no test waits for a build under go test's 10-minute default timeout, and it
// runs the tests in shuffled order.
func TestMakeTestGetsVaultBeforeGoTest(t *testing.T) {
	out, err := exec.Command("make", "-C", "..", "-n", "test").CombinedOutput()
	if err != nil {
		t.Fatalf("make -n test: %v\n%s", err, out)
	}
	recipe := string(out)
	getVault := strings.Index(recipe, "scripts/get-vault.sh")
	goTest := strings.Index(recipe, "go test -race")
	if getVault < 0 || goTest < 0 || getVault > goTest {
		t.Fatalf("make test does not run scripts/get-vault.sh before go test:\n%s", recipe)
	}
	if !strings.Contains(recipe[getVault:goTest], "export VAULT_BIN=") {
		t.Errorf("make test does not export VAULT_BIN from scripts/get-vault.sh:\n%s", recipe)
	}
	if !strings.Contains(recipe[goTest:], "-shuffle=on") {
		t.Errorf("make test does not run go test with -shuffle=on:\n%s", recipe)
	}
}
