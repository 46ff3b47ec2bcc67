package main

import (
	"bytes"
	"context"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/acme/secretsbroker/internal/repo"
)

// helpEntry is one flag of a help text and the environment variables named in its entry.
type helpEntry struct {
	flag string
	envs []string
}

var (
	entryStart = regexp.MustCompile(`^\s+--?[a-z]`)
	longFlag   = regexp.MustCompile(`--([a-z][a-z0-9-]*)`)
	anyFlag    = regexp.MustCompile(`-([a-z][a-z0-9-]*)`)
	envName    = regexp.MustCompile(`\$([A-Z][A-Z0-9_]*)`)
	backticked = regexp.MustCompile("`([^`]+)`")
)

// helpFlags runs `brokerd <command> -h` in-process and returns its flags with their twins.
func helpFlags(t *testing.T, command string) map[string]helpEntry {
	t.Helper()
	var stdout, stderr bytes.Buffer
	_ = run(context.Background(), []string{command, "-h"}, func(string) string { return "" }, &stdout, &stderr)
	out := map[string]helpEntry{}
	var cur *helpEntry
	for _, line := range strings.Split(stdout.String()+stderr.String(), "\n") {
		if entryStart.MatchString(line) {
			m := longFlag.FindStringSubmatch(line) // kong: "-v, --verbose"; flag package: "-verbose"
			if m == nil {
				m = anyFlag.FindStringSubmatch(line)
			}
			if m[1] == "h" || m[1] == "help" {
				cur = nil
				continue
			}
			out[m[1]] = helpEntry{flag: m[1]}
			e := out[m[1]]
			cur = &e
		}
		if cur != nil {
			for _, m := range envName.FindAllStringSubmatch(line, -1) {
				if !slices.Contains(cur.envs, m[1]) {
					cur.envs = append(cur.envs, m[1])
				}
			}
			out[cur.flag] = *cur
		}
	}
	if len(out) == 0 {
		t.Fatalf("brokerd %s -h printed no flags:\n%s%s", command, stdout.String(), stderr.String())
	}
	return out
}

// tableRow is one row of a configuration table in README.md: its variables and flags.
type tableRow struct {
	line  int
	vars  []string
	flags []string
}

// readmeConfigTables returns the tables of README.md's "## Configuration" section, in order.
func readmeConfigTables(t *testing.T) [][]tableRow {
	t.Helper()
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var tables [][]tableRow
	in, inTable := false, false
	for i, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "## "):
			in = line == "## Configuration"
			inTable = false
			continue
		case !in:
			continue
		case !strings.HasPrefix(line, "|"):
			inTable = false
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) < 2 || strings.TrimSpace(cells[0]) == "variable" || strings.HasPrefix(strings.TrimSpace(cells[0]), "---") {
			if !inTable {
				tables = append(tables, nil)
				inTable = true
			}
			continue
		}
		row := tableRow{line: i + 1}
		for _, m := range backticked.FindAllStringSubmatch(cells[0], -1) {
			row.vars = append(row.vars, m[1])
		}
		for _, m := range backticked.FindAllStringSubmatch(cells[1], -1) {
			row.flags = append(row.flags, strings.TrimPrefix(m[1], "--"))
		}
		tables[len(tables)-1] = append(tables[len(tables)-1], row)
	}
	if len(tables) < 2 {
		t.Fatalf("README.md's Configuration section has %d tables, want the serve table and the setup table", len(tables))
	}
	return tables
}

// checkRows checks that every row's variables and flags are flags of help with those twins,
// pairing the i-th variable with the i-th flag, and returns the flags the rows name.
func checkRows(t *testing.T, command string, rows []tableRow, help map[string]helpEntry) map[string]bool {
	t.Helper()
	named := map[string]bool{}
	for _, r := range rows {
		if len(r.vars) != len(r.flags) {
			t.Errorf("README.md:%d: %d variables %v but %d flags %v: name each variable's flag", r.line, len(r.vars), r.vars, len(r.flags), r.flags)
			continue
		}
		for i, f := range r.flags {
			named[f] = true
			e, ok := help[f]
			if !ok {
				t.Errorf("README.md:%d: brokerd %s has no flag --%s", r.line, command, f)
				continue
			}
			if !slices.Contains(e.envs, r.vars[i]) {
				t.Errorf("README.md:%d: --%s's variable is %v in brokerd %s -h, not %s", r.line, f, e.envs, command, r.vars[i])
			}
		}
	}
	return named
}

// README.md's configuration tables list exactly the flags and variables of brokerd serve
// (first table) and brokerd setup (the serve table's Vault rows plus the second table).
func TestReadmeConfigurationTables(t *testing.T) {
	tables := readmeConfigTables(t)
	serve, setup := helpFlags(t, "serve"), helpFlags(t, "setup")

	inServe := checkRows(t, "serve", tables[0], serve)
	for _, f := range slices.Sorted(maps.Keys(serve)) {
		if e := serve[f]; !inServe[f] {
			t.Errorf("brokerd serve --%s %v is not in README.md's configuration table", f, e.envs)
		}
	}

	inSetup := checkRows(t, "setup", tables[1], setup)
	for _, f := range slices.Sorted(maps.Keys(setup)) {
		e := setup[f]
		if inSetup[f] {
			continue
		}
		// setup's Vault flags are documented once, in the serve table.
		if se, ok := serve[f]; !ok || !inServe[f] || !slices.Equal(se.envs, e.envs) {
			t.Errorf("brokerd setup --%s %v is in neither of README.md's configuration tables", f, e.envs)
		}
	}
}
