// Package repo finds the repository the tools run in.
package repo

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
)

// rootModule matches the module line of the repository's own go.mod (and not
// that of a nested module such as cmd/brokerbench).
var rootModule = regexp.MustCompile(`(?m)^module\s+github\.com/acme/secretsbroker\s*$`)

// Root returns the directory holding the repository's go.mod (module
// github.com/acme/secretsbroker), walking up from the working directory past
// the go.mod files of nested modules.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && rootModule.Match(b) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod of github.com/acme/secretsbroker above the working directory: run inside the repository")
		}
		dir = parent
	}
}
