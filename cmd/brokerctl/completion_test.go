package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCompletionNamesEveryCommand: each script names every command of the
// tree (aliases too); the bash script, sourced by a real bash, completes
// subcommands and the flags of the command typed so far.
func TestCompletionNamesEveryCommand(t *testing.T) {
	want := []string{"secrets", "presets", "runtimes", "evaluations", "apikeys", "keys", "audit", "completion",
		"list", "get", "set", "rotate", "delete", "rm", "versions", "rollback", "create", "restart", "revoke",
		"--create-only", "--secret", "--secret-id", "--show-token", "--token-file", "--project", "--item"}
	scripts := map[string]string{}
	for _, sh := range []string{"bash", "zsh", "fish"} {
		r := runCLI(t, nil, "", "completion", sh)
		if r.code != 0 {
			t.Fatalf("completion %s: exit %d: %s", sh, r.code, r.stderr)
		}
		for _, w := range want {
			if !strings.Contains(r.stdout, " "+w) && !strings.Contains(r.stdout, `"`+w) && !strings.Contains(r.stdout, "'"+w) {
				t.Errorf("completion %s does not name %s", sh, w)
			}
		}
		scripts[sh] = r.stdout
	}
	if r := runCLI(t, nil, "", "completion", "tcsh"); r.code != 2 {
		t.Fatalf("completion tcsh: exit %d, want 2", r.code)
	}

	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed: the scripts' words were checked, not run")
	}
	file := filepath.Join(t.TempDir(), "brokerctl.bash")
	if err := os.WriteFile(file, []byte(scripts["bash"]), 0o600); err != nil {
		t.Fatal(err)
	}
	complete := func(words ...string) []string {
		t.Helper()
		quoted := make([]string, len(words))
		for i, w := range words {
			quoted[i] = "'" + w + "'"
		}
		script := `source "$1"; COMP_WORDS=(brokerctl ` + strings.Join(quoted, " ") + `); COMP_CWORD=${#COMP_WORDS[@]}; COMP_CWORD=$((COMP_CWORD-1)); _brokerctl; printf '%s\n' "${COMPREPLY[@]}"`
		out, err := exec.Command(bash, "-c", script, "bash", file).CombinedOutput()
		if err != nil {
			t.Fatalf("bash: %v\n%s", err, out)
		}
		return strings.Fields(string(out))
	}
	if got := strings.Join(complete("se"), " "); got != "secrets" {
		t.Errorf("brokerctl se<TAB>: %q", got)
	}
	if got := strings.Join(complete("secrets", "de"), " "); got != "delete" {
		t.Errorf("brokerctl secrets de<TAB>: %q", got)
	}
	if got := strings.Join(complete("--json", "runtimes", "create", "--show"), " "); got != "--show-token" {
		t.Errorf("brokerctl --json runtimes create --show<TAB>: %q", got)
	}
	if got := strings.Join(complete("secrets", "set", "--cr"), " "); got != "--create-only" {
		t.Errorf("brokerctl secrets set --cr<TAB>: %q", got)
	}
}
