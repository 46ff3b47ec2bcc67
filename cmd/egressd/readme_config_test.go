package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/acme/secretsbroker/internal/repo"
)

var (
	helpFlag = regexp.MustCompile(`^\s+-([a-z][a-z0-9-]*)`)
	helpEnv  = regexp.MustCompile(`\[\$([A-Z][A-Z0-9_]*)\]`)
	backtick = regexp.MustCompile("`([^`]+)`")
)

// README.md's egressd table lists exactly the flags of egressd serve, each
// with its environment twin.
func TestReadmeTableListsEveryFlag(t *testing.T) {
	var out, errb bytes.Buffer
	_ = run(context.Background(), []string{"serve", "-h"}, func(string) string { return "" }, &out, &errb)
	help := map[string]string{} // flag -> env
	cur := ""
	for _, line := range strings.Split(out.String(), "\n") {
		if m := helpFlag.FindStringSubmatch(line); m != nil {
			cur = m[1]
			help[cur] = ""
		}
		if m := helpEnv.FindStringSubmatch(line); m != nil && cur != "" {
			help[cur] = m[1]
		}
	}
	if len(help) < 15 {
		t.Fatalf("read %d flags from egressd serve -h", len(help))
	}
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "## Egress delivery (egressd)\n")
	if !ok {
		t.Fatal("README.md has no egressd section")
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	seen := map[string]bool{}
	for _, line := range strings.Split(sec, "\n") {
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if !strings.HasPrefix(line, "|") || len(cells) < 2 || strings.TrimSpace(cells[0]) == "variable" || strings.HasPrefix(cells[0], "---") {
			continue
		}
		vars, flags := backtick.FindAllStringSubmatch(cells[0], -1), backtick.FindAllStringSubmatch(cells[1], -1)
		if len(vars) != len(flags) {
			t.Errorf("README row %q: %d variables, %d flags", line, len(vars), len(flags))
			continue
		}
		for i, f := range flags {
			name := strings.TrimPrefix(f[1], "--")
			env, ok := help[name]
			if !ok || env != vars[i][1] {
				t.Errorf("README row names --%s as %s; egressd serve -h: present %v, twin %s", name, vars[i][1], ok, env)
			}
			seen[name] = true
		}
	}
	for f, env := range help {
		if !seen[f] {
			t.Errorf("egressd serve --%s ($%s) is not in README.md's egressd table", f, env)
		}
	}
}
