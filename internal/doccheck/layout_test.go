package doccheck

import (
	"go/parser"
	"go/token"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/acme/secretsbroker"

// goPackages returns the directories of the tracked non-test Go files, relative to the
// root, with the imports of each.
func goPackages(t *testing.T) map[string]map[string]bool {
	t.Helper()
	root, files := trackedFiles(t)
	pkgs := map[string]map[string]bool{}
	fset := token.NewFileSet()
	for _, f := range files {
		if !strings.HasSuffix(f, ".go") || strings.HasSuffix(f, "_test.go") || strings.Contains(f, "testdata/") {
			continue
		}
		dir := path.Dir(filepath.ToSlash(f))
		if pkgs[dir] == nil {
			pkgs[dir] = map[string]bool{}
		}
		af, err := parser.ParseFile(fset, filepath.Join(root, f), nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range af.Imports {
			pkgs[dir][strings.Trim(im.Path.Value, `"`)] = true
		}
	}
	return pkgs
}

// layoutKey is how a package is named in the layout lists: "client/", "cmd/brokerd",
// "internal/exit/"; subpackages are covered by their parent's line.
func layoutKey(dir string) string {
	seg := strings.Split(dir, "/")
	switch {
	case seg[0] == "cmd" && len(seg) >= 2:
		return "cmd/" + seg[1]
	case seg[0] == "internal" && len(seg) >= 2:
		return "internal/" + seg[1] + "/"
	case dir == ".":
		return ""
	}
	return seg[0] + "/"
}

// codeBlockAfter returns the first ``` block after heading in file.
func codeBlockAfter(t *testing.T, file, heading string) string {
	t.Helper()
	root, _ := trackedFiles(t)
	b, err := os.ReadFile(filepath.Join(root, file))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), heading)
	if !ok {
		t.Fatalf("%s has no %q", file, heading)
	}
	_, rest, _ = strings.Cut(rest, "```\n")
	block, _, _ := strings.Cut(rest, "```")
	return block
}

// Every package of the tree has its line in the README's layout and in docs/design.md.
func TestLayoutListsEveryPackage(t *testing.T) {
	keys := map[string]bool{}
	for dir := range goPackages(t) {
		if k := layoutKey(dir); k != "" {
			keys[k] = true
		}
	}
	var sorted []string
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, doc := range []struct{ file, heading string }{{"README.md", "## Layout"}, {"docs/design.md", "## 2. Layout"}} {
		block := codeBlockAfter(t, doc.file, doc.heading)
		for _, k := range sorted {
			if !strings.Contains(block, k) {
				t.Errorf("%s: the layout under %q does not list %s", doc.file, doc.heading, k)
			}
		}
	}
}

// Imports point inward (cmd -> handlers -> broker <- adapters): the domain and the layout
// contract import only the standard library, adapters never import each other or handlers,
// and the SDK imports only the standard library and broker.
func TestImportDirection(t *testing.T) {
	pkgs := goPackages(t)
	rules := map[string][]string{ // package -> the module packages it may import
		"broker":      nil,
		"layout":      nil,
		"envfile":     nil,
		"auditlog":    {"layout"},
		"client":      {"broker"},
		"vaultx":      {"broker", "layout", "rotation", "internal/atomicfile"}, // rotation: like broker, a domain package vaultx implements
		"redisx":      {"broker"},
		"inproc":      {"broker"},
		"rotation":    {"broker"},
		"handlers":    {"broker"},
		"egressproxy": {"broker"},
	}
	for dir, imports := range pkgs {
		allowed, ok := rules[dir]
		if !ok {
			continue
		}
		for im := range imports {
			if !strings.HasPrefix(im, module+"/") {
				if dir == "broker" || dir == "layout" {
					if first, _, _ := strings.Cut(im, "/"); strings.Contains(first, ".") {
						t.Errorf("%s imports %s: it may import only the standard library", dir, im)
					}
				}
				continue
			}
			rel := strings.TrimPrefix(im, module+"/")
			okImport := false
			for _, a := range allowed {
				okImport = okImport || rel == a
			}
			if !okImport {
				t.Errorf("%s imports %s: allowed are the standard library, third-party libraries and %v", dir, rel, allowed)
			}
		}
	}
	for dir := range rules {
		if pkgs[dir] == nil {
			t.Errorf("no package %s: the rules are out of date", dir)
		}
	}
}
