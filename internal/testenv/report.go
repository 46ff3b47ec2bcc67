package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/acme/secretsbroker/internal/repo"
)

// report appends one line to the file named by BROKER_TESTENV_REPORT, if set, so that
// `make test` can say which real servers the tests used and whether any test skipped.
// Line: "<event> <package dir> <detail>"; events: vault, redis, sentinel, skip.
func report(event, detail string) {
	path := os.Getenv("BROKER_TESTENV_REPORT")
	if path == "" {
		return
	}
	pkg := "."
	if wd, err := os.Getwd(); err == nil {
		pkg = wd
		if root, err := repo.Root(); err == nil {
			if rel, err := filepath.Rel(root, wd); err == nil {
				pkg = rel
			}
		}
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	// One short write per line: O_APPEND keeps lines from parallel test binaries whole.
	_, _ = fmt.Fprintf(f, "%s %s %s\n", event, pkg, strings.ReplaceAll(detail, "\n", " "))
}
