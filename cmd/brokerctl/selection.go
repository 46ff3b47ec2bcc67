package main

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/acme/secretsbroker/client"
)

// selectionFlags choose the secrets a sandbox receives: by name or glob
// (--secret), or by id (--secret-id).
type selectionFlags struct {
	Secret   []string `name:"secret" sep:"none" placeholder:"NAME|GLOB" help:"A secret by name, or every secret matching a glob (fnmatch: *, ?, [...]); names and globs are case-insensitive. Repeatable."`
	SecretID []string `name:"secret-id" sep:"none" placeholder:"ID" help:"A secret by id. Repeatable."`
}

func (f selectionFlags) empty() bool { return len(f.Secret) == 0 && len(f.SecretID) == 0 }

// isGlob reports whether p holds a glob metacharacter of path.Match.
func isGlob(p string) bool { return strings.ContainsAny(p, `*?[\`) }

// resolve returns the ids selected, in the order given, without duplicates.
// Names and globs are upper-cased and matched against the upper-cased names
// of the caller's secrets (one list call, only when --secret is given). A
// name that matches nothing is an error naming it; so is a glob that
// matches nothing, or a malformed glob (a usage error).
func (f selectionFlags) resolve(ctx context.Context, api *client.Client) ([]string, error) {
	ids := []string{}
	seen := map[string]bool{}
	add := func(id string) {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	if len(f.Secret) > 0 {
		l, err := api.ListSecrets(ctx)
		if err != nil {
			return nil, err
		}
		for _, p := range f.Secret {
			want := strings.ToUpper(p)
			if _, err := path.Match(want, ""); err != nil {
				return nil, usagef("--secret %q is not a valid glob: %v", orDash(p), err)
			}
			n := 0
			for _, s := range l.Secrets {
				if ok, _ := path.Match(want, strings.ToUpper(s.Name)); ok {
					add(s.ID)
					n++
				}
			}
			switch {
			case n == 0 && isGlob(p):
				return nil, fmt.Errorf("no secret matches %q (see `brokerctl secrets list`)", orDash(p))
			case n == 0:
				return nil, fmt.Errorf("no secret named %q (see `brokerctl secrets list`)", orDash(p))
			}
		}
	}
	for _, id := range f.SecretID {
		add(strings.ToLower(id))
	}
	return ids, nil
}
