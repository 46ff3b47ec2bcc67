package doccheck

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	routeCall = regexp.MustCompile(`\b(e|api|a)\.(GET|POST|PUT|DELETE|PATCH)\("([^"]+)"`)
	groupCall = regexp.MustCompile(`api\s*:?=\s*e\.Group\("([^"]+)"`)
	docPath   = regexp.MustCompile(`\b(GET|POST|PUT|DELETE|PATCH) (/[A-Za-z0-9_./{}<>:-]*[A-Za-z0-9_}>])`)
	param     = regexp.MustCompile(`\{[^}]+\}|<[^>]+>|:[a-z_]+`)
)

// routes reads handlers/routes.go, where every route is registered (the API on
// e and its group api, the admin listener on a), and returns
// "METHOD /path" with parameters written ":p".
func routes(t *testing.T, root string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "handlers", "routes.go"))
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	g := groupCall.FindStringSubmatch(src)
	if g == nil {
		t.Fatal("handlers/routes.go: no api group")
	}
	out := map[string]bool{}
	for _, m := range routeCall.FindAllStringSubmatch(src, -1) {
		p := m[3]
		if m[1] == "api" {
			p = g[1] + p
		}
		out[m[2]+" "+param.ReplaceAllString(p, ":p")] = true
	}
	if len(out) < 10 {
		t.Fatalf("read only %d routes from handlers/routes.go", len(out))
	}
	return out
}

// Every "METHOD /path" in the documentation is a route of the API, written as clients call
// it (with /api/v1 for the API proper). Vault's own API (/v1/...) is not the broker's.
func TestDocumentedAPIPathsAreRoutes(t *testing.T) {
	root, files := trackedFiles(t)
	known := routes(t, root)
	checked := 0
	for _, f := range files {
		if !strings.HasSuffix(f, ".md") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			for _, m := range docPath.FindAllStringSubmatch(line, -1) {
				path := strings.TrimSuffix(m[2], ".") // end of a sentence
				if strings.HasPrefix(path, "/v1/") {
					continue
				}
				checked++
				if !known[m[1]+" "+param.ReplaceAllString(path, ":p")] {
					t.Errorf("%s:%d: %s %s is not a route of the API (handlers/routes.go); API paths start with /api/v1", f, i+1, m[1], path)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no documented API path found: the pattern is broken")
	}
}
