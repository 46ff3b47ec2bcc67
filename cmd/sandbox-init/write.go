package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/acme/secretsbroker/envfile"
)

// envFileMode is the mode of the written env file: readable by its owner only.
const envFileMode = 0o400

// pendingFile is an env file being written atomically: a temp file in the
// target's directory, renamed over the target once complete. It is created
// before the token is spent, so an unwritable destination costs nothing.
type pendingFile struct {
	path string
	tmp  *os.File
}

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
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("cannot create the env file in %s: %w", dir, err)
	}
	return &pendingFile{path: path, tmp: tmp}, nil
}

// commit writes env (mode 0400), syncs it, renames it over the target and
// syncs the directory. On error the temp file is removed and the target is
// untouched.
func (p *pendingFile) commit(env map[string]string) (err error) {
	defer func() {
		if err != nil {
			p.abort()
		}
	}()
	if err := envfile.Encode(p.tmp, env); err != nil {
		return err
	}
	if err := p.tmp.Chmod(envFileMode); err != nil {
		return err
	}
	if err := p.tmp.Sync(); err != nil {
		return err
	}
	if err := p.tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(p.tmp.Name(), p.path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(p.path))
}

// abort removes the temp file; the target is untouched.
func (p *pendingFile) abort() {
	_ = p.tmp.Close()
	_ = os.Remove(p.tmp.Name()) // gone already after a rename
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
