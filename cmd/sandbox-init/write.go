package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/acme/secretsbroker/envfile"
	"github.com/acme/secretsbroker/internal/atomicfile"
)

// envFileMode is the mode of the written env file: readable by its owner only.
const envFileMode = 0o400

// pendingFile is an env file being written atomically (internal/atomicfile):
// a temp file in the target's directory, renamed over the target once
// complete. It is created before the token is spent, so an unwritable
// destination costs nothing.
type pendingFile struct{ f *atomicfile.Pending }

// createPending opens the temp file next to path. Errors are configuration
// errors.
func createPending(path string) (*pendingFile, error) {
	dir, base := filepath.Split(path)
	if base == "" {
		return nil, fmt.Errorf("--out %q names a directory", path)
	}
	if dir == "" {
		dir = "."
	}
	// The rename over the target would fail after the token is spent.
	if st, err := os.Lstat(path); err == nil && st.IsDir() {
		return nil, fmt.Errorf("--out %q is an existing directory: name a file", path)
	}
	f, err := atomicfile.Create(path, envFileMode)
	if err != nil {
		return nil, fmt.Errorf("cannot create the env file in %s: %w", dir, err)
	}
	return &pendingFile{f: f}, nil
}

// commit writes env (mode 0400), syncs it, renames it over the target and
// syncs the directory. On error the temp file is removed and the target is
// untouched.
func (p *pendingFile) commit(env map[string]string) error {
	if err := envfile.Encode(p.f, env); err != nil {
		p.f.Abort()
		return err
	}
	return p.f.Commit()
}

// abort removes the temp file; the target is untouched.
func (p *pendingFile) abort() { p.f.Abort() }
