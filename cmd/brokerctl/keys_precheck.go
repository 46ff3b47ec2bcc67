package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/vaultx"
)

// checkState checks, before anything changes, that the --state file can be
// read and written: its directory exists and is writable, and an existing
// file opens for appending. A bad --state is a usage error (exit 2), and
// nothing has been rotated yet.
func (c *keysRotateCmd) checkState() error {
	if c.State == "" {
		return nil
	}
	dir := filepath.Dir(c.State)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return usagef("--state %s: directory %s does not exist (nothing was changed)", c.State, dir)
	case err != nil:
		return usagef("--state %s: %v (nothing was changed)", c.State, unwrapPathError(err))
	case !st.IsDir():
		return usagef("--state %s: %s is not a directory (nothing was changed)", c.State, dir)
	}
	if fi, err := os.Stat(c.State); err == nil {
		if fi.IsDir() {
			return usagef("--state %s is a directory (nothing was changed)", c.State)
		}
		f, err := os.OpenFile(c.State, os.O_RDWR|os.O_APPEND, 0)
		if err != nil {
			return usagef("--state %s cannot be written: %v (nothing was changed)", c.State, unwrapPathError(err))
		}
		return f.Close()
	}
	f, err := os.CreateTemp(dir, ".brokerctl-state-check-*")
	if err != nil {
		return usagef("--state %s: directory %s is not writable: %v (nothing was changed)", c.State, dir, unwrapPathError(err))
	}
	name := f.Name()
	_ = f.Close()
	return os.Remove(name)
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// checkCapabilities asks Vault (sys/capabilities-self) whether the
// operator's token may do every step of the run, before the first step
// changes anything. A token that may not ask is not refused (Vault's
// default policy allows asking; without it the run finds out step by step).
func (c *keysRotateCmd) checkCapabilities(a *app, vc *vaultx.Client) error {
	kv, transit, key := vc.KVMount(), vc.TransitMount(), vc.TransitKey()
	type need struct {
		path, what string
		caps       []string
	}
	needs := []need{
		{transit + "/rewrap/" + key, "rewrap ciphertexts", []string{"update"}},
		{kv + "/metadata/users/", "list the users", []string{"list"}},
		{kv + "/metadata/users/" + probeSegment + "/secrets/", "list a user's secrets", []string{"list"}},
		{kv + "/data/users/" + probeSegment + "/secrets/" + probeSegment, "read and write secrets", []string{"read", "update"}},
	}
	if !c.RewrapOnly {
		needs = append(needs, need{transit + "/keys/" + key + "/rotate", "rotate the key", []string{"update"}})
	}
	if c.RaiseMinVersion {
		needs = append(needs, need{transit + "/keys/" + key + "/config", "raise min_decryption_version", []string{"update"}})
	}
	paths := make([]string, len(needs))
	for i, n := range needs {
		paths[i] = n.path
	}
	have, err := vc.Capabilities(a.ctx, paths...)
	if broker.IsCode(err, broker.CodeForbidden) {
		fmt.Fprintln(a.stderr, "warning: the token may not check its capabilities (sys/capabilities-self): going ahead unchecked")
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w (nothing was changed)", vaultErr(err))
	}
	var missing []string
	for _, n := range needs {
		if m := vaultx.Missing(have[n.path], n.caps); len(m) > 0 {
			missing = append(missing, fmt.Sprintf("%s on %s (to %s)", strings.Join(m, ","), n.path, n.what))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("vault: the token lacks %s: nothing was changed; see \"The operator's Vault policy\" in docs/operations.md", strings.Join(missing, "; "))
	}
	return nil
}

// probeSegment stands for any user or secret id in a capability check.
const probeSegment = "capability-probe"
