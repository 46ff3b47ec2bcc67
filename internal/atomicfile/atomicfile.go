// Package atomicfile writes files that readers see whole or not at all: the
// content goes to a temporary file in the target's directory (never wider
// than its final mode), is synced, renamed over the target, and the
// directory is synced. Used for sandbox-init's env file (0400) and brokerd
// setup's role_id and secret_id files (0600).
package atomicfile

import (
	"io/fs"
	"os"
	"path/filepath"
)

// Pending is a file being written: a temporary file next to its path.
// Write to it, then Commit or Abort. Not safe for concurrent use.
type Pending struct {
	path string
	tmp  *os.File
	done bool
}

// Create opens a temporary file, mode mode, in path's directory. It can be
// called before the content exists, so that an unwritable destination fails
// before anything is spent. Errors are *fs.PathError values.
func Create(path string, mode fs.FileMode) (*Pending, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, err
	}
	if err := tmp.Chmod(mode); err != nil {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
		return nil, err
	}
	return &Pending{path: path, tmp: tmp}, nil
}

// Write writes to the temporary file.
func (p *Pending) Write(b []byte) (int, error) { return p.tmp.Write(b) }

// Commit syncs the temporary file, renames it over the target and syncs the
// directory. On error the temporary file is removed and the target is
// untouched (unless only the directory sync failed: the rename happened).
func (p *Pending) Commit() (err error) {
	defer func() {
		if err != nil {
			p.Abort()
		}
	}()
	if err := p.tmp.Sync(); err != nil {
		return err
	}
	if err := p.tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(p.tmp.Name(), p.path); err != nil {
		return err
	}
	p.done = true
	return syncDir(filepath.Dir(p.path))
}

// Abort removes the temporary file; the target is untouched. It does
// nothing after a Commit that renamed the file, and may be called again.
func (p *Pending) Abort() {
	_ = p.tmp.Close()
	if !p.done {
		_ = os.Remove(p.tmp.Name())
	}
}

// WriteFile writes b to path with mode mode, atomically.
func WriteFile(path string, b []byte, mode fs.FileMode) error {
	p, err := Create(path, mode)
	if err != nil {
		return err
	}
	if _, err := p.Write(b); err != nil {
		p.Abort()
		return err
	}
	return p.Commit()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
