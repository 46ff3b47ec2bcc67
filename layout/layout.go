// Package layout is the one definition of where the broker keeps things in
// its Vault KV v2 mount, and of the creation path a bootstrap token carries.
// vaultx writes and reads these paths, sandbox-init checks the creation
// path, auditlog parses them back out of the audit log, and brokerbench
// calls them directly as its Vault floor. Standard library only, so that
// each of them can import it at no cost.
//
// Logical paths (below the mount, as vaultx's KV helpers take them):
//
//	users/<user>/secrets/<secret id>   a secret: one KV version per value
//	users/<user>/names/<name>          name index: name -> secret id (cas=0)
//	users/<user>/apikeys/<hash>        a user's API key, listed per user
//	users/<user>/runtimes/<id>         a runtime record (no token), the system of record
//	users/<user>/evaluations/<id>      an evaluation record (no token)
//	accessors/<sandbox id>             the wrapping accessor of a sandbox's unused bootstrap
//	apikeys/<hash>                     API key lookup by hash
//	sandboxes/<sandbox id>             a bootstrap bundle, deleted once wrapped
//	egress/sandboxes/<sandbox id>      an egress sandbox: credential hash, hosts, expiry
//	egress/placeholders/<hash>         a placeholder (by the SHA-256 of its token)
//
// KV v2 API paths put "data/" (values) or "metadata/" (versions, custom
// metadata, listing, deletion) between the mount and the logical path.
package layout

import "strings"

// Top-level areas below the KV mount: the broker's policy grants these only.
const (
	AreaUsers     = "users"
	AreaSandboxes = "sandboxes"
	AreaAPIKeys   = "apikeys"
	AreaEgress    = "egress"
	AreaAccessors = "accessors"
)

// Folders below egress/.
const (
	SubEgressSandboxes    = "sandboxes"
	SubEgressPlaceholders = "placeholders"
)

// Folders below users/<user>/.
const (
	SubSecrets     = "secrets"
	SubNames       = "names"
	SubAPIKeys     = "apikeys"
	SubRuntimes    = "runtimes"
	SubEvaluations = "evaluations"
)

// Areas returns the top-level areas, in policy order.
func Areas() []string { return []string{AreaUsers, AreaSandboxes, AreaAPIKeys, AreaAccessors} }

// UserFolder is users/<user>/<sub>, a folder to list.
func UserFolder(user, sub string) string { return AreaUsers + "/" + user + "/" + sub }

// SecretPath is users/<user>/secrets/<secretID>.
func SecretPath(user, secretID string) string { return UserFolder(user, SubSecrets) + "/" + secretID }

// NamePath is users/<user>/names/<name>; vaultx passes the name upper-cased
// (one name per case).
func NamePath(user, name string) string { return UserFolder(user, SubNames) + "/" + name }

// UserAPIKeyPath is users/<user>/apikeys/<hash>.
func UserAPIKeyPath(user, hash string) string { return UserFolder(user, SubAPIKeys) + "/" + hash }

// APIKeyPath is apikeys/<hash>.
func APIKeyPath(hash string) string { return AreaAPIKeys + "/" + hash }

// RuntimePath is users/<user>/runtimes/<id>.
func RuntimePath(user, id string) string { return UserFolder(user, SubRuntimes) + "/" + id }

// EvaluationPath is users/<user>/evaluations/<id>.
func EvaluationPath(user, id string) string { return UserFolder(user, SubEvaluations) + "/" + id }

// AccessorPath is accessors/<sandboxID>.
func AccessorPath(sandboxID string) string { return AreaAccessors + "/" + sandboxID }

// SandboxPath is sandboxes/<sandboxID>.
func SandboxPath(sandboxID string) string { return AreaSandboxes + "/" + sandboxID }

// EgressSandboxPath is egress/sandboxes/<sandboxID>: egressd's record of an
// egress sandbox (broker.SandboxEgress).
func EgressSandboxPath(sandboxID string) string {
	return AreaEgress + "/" + SubEgressSandboxes + "/" + sandboxID
}

// EgressPlaceholderPath is egress/placeholders/<tokenHash>: egressd's record
// of one placeholder (broker.PlaceholderRecord), by broker.TokenHash.
func EgressPlaceholderPath(tokenHash string) string {
	return AreaEgress + "/" + SubEgressPlaceholders + "/" + tokenHash
}

// DataPath is the KV v2 data path of logical path p: <mount>/data/<p>.
func DataPath(mount, p string) string { return mount + "/data/" + p }

// MetadataPath is the KV v2 metadata path of logical path p: <mount>/metadata/<p>.
func MetadataPath(mount, p string) string { return mount + "/metadata/" + p }

// CreationPath is the creation path of the bootstrap token of sandboxID, the
// only one sandbox-init accepts: <mount>/data/sandboxes/<sandboxID>.
func CreationPath(mount, sandboxID string) string { return DataPath(mount, SandboxPath(sandboxID)) }

// SandboxFromCreationPath returns <id> of a creation path
// "<mount>/data/sandboxes/<id>", or "" when p is not one.
func SandboxFromCreationPath(p string) string {
	_, rest, ok := strings.Cut(p, "/data/"+AreaSandboxes+"/")
	if !ok || rest == "" || strings.Contains(rest, "/") {
		return ""
	}
	return rest
}

// Ref is what a logical path names, as Parse reads it.
type Ref struct {
	Depth int    // number of segments ("users/u/secrets" has 3)
	Area  string // the first segment
	User  string // users/<User>/...: the second segment
	Sub   string // users/<user>/<Sub>/...: the third segment
	// ID is the segment naming one entry: the sandbox id of
	// sandboxes/<id>, the hash of apikeys/<hash>, the secret id, name or
	// hash of users/<user>/<sub>/<ID>. "" for a folder.
	ID string
}

// Parse splits a logical path (a trailing "/" of a listing is ignored).
func Parse(p string) Ref {
	seg := strings.Split(strings.TrimSuffix(p, "/"), "/")
	r := Ref{Depth: len(seg), Area: seg[0]}
	switch {
	case r.Area == AreaUsers:
		if len(seg) >= 2 {
			r.User = seg[1]
		}
		if len(seg) >= 3 {
			r.Sub = seg[2]
		}
		if len(seg) >= 4 {
			r.ID = seg[3]
		}
	case len(seg) >= 2:
		r.ID = seg[1]
	}
	return r
}
