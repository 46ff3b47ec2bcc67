package auditlog

import (
	"strings"

	"github.com/acme/secretsbroker/layout"
)

// Action is what a Vault call did, in the broker's terms.
type Action string

// Actions.
const (
	ActionCreate    Action = "create"    // name index write (cas=0) or first data write of a secret
	ActionRotate    Action = "rotate"    // data write on an existing secret
	ActionDelete    Action = "delete"    // secret or name deletion
	ActionList      Action = "list"      // listing a user's secrets
	ActionRead      Action = "read"      // reading a secret's metadata or ciphertext, or a name
	ActionWrite     Action = "write"     // a secret's custom metadata (part of create or rotate)
	ActionProvision Action = "provision" // sandboxes/<id>: bundle write, wrapped read, destroy
	ActionUnwrap    Action = "unwrap"    // sys/wrapping/unwrap
	ActionLookup    Action = "lookup"    // sys/wrapping/lookup
	ActionRevoke    Action = "revoke"    // auth/token/revoke-accessor
	ActionAPIKey    Action = "apikey"    // apikeys/* and users/<user>/apikeys/*
	ActionEncrypt   Action = "encrypt"   // transit encrypt
	ActionDecrypt   Action = "decrypt"   // transit decrypt
	ActionHMAC      Action = "hmac"      // transit hmac (fingerprints)
	ActionRewrap    Action = "rewrap"    // transit rewrap (brokerctl keys rotate)
	ActionLogin     Action = "login"     // auth/approle/login
	ActionRenew     Action = "renew"     // auth/token/renew-self
	ActionOther     Action = "other"
)

// priority ranks the actions a broker request is labelled with: the
// highest-ranked call of a request names the whole request.
// A key rotation run (brokerctl keys rotate: one X-Request-Id, transit
// rewrap calls and new KV versions) is "rewrap", not a user's "rotate".
var priority = map[Action]int{
	ActionProvision: 90, ActionRewrap: 85, ActionCreate: 80, ActionRotate: 70, ActionDelete: 60,
	ActionRevoke: 55, ActionAPIKey: 50, ActionList: 40, ActionWrite: 30, ActionRead: 20,
	ActionDecrypt: 15, ActionEncrypt: 14, ActionHMAC: 13, ActionUnwrap: 12, ActionLookup: 11,
	ActionLogin: 5, ActionRenew: 4, ActionOther: 0,
}

// Mounts are where the broker's secrets engines are mounted. They are only
// needed for entries that do not say (failed calls may lack mount_type).
type Mounts struct {
	KV      string // default "broker"
	Transit string // default "transit"
}

func (m Mounts) withDefaults() Mounts {
	if m.KV = strings.Trim(m.KV, "/"); m.KV == "" {
		m.KV = "broker"
	}
	if m.Transit = strings.Trim(m.Transit, "/"); m.Transit == "" {
		m.Transit = "transit"
	}
	return m
}

// subject is what a path names.
type subject struct {
	user, secretID, sandboxID string
}

// classify returns what the call in r did and whom its path names.
func classify(r *Record, m Mounts) (Action, subject) {
	path := strings.TrimPrefix(r.Req.Path, "/")
	op := r.Req.Operation
	switch {
	case path == "sys/wrapping/unwrap":
		return ActionUnwrap, subject{}
	case path == "sys/wrapping/lookup":
		return ActionLookup, subject{}
	case path == "auth/token/revoke-accessor" || strings.HasPrefix(path, "auth/token/revoke-accessor/"):
		return ActionRevoke, subject{}
	case path == "auth/token/renew-self":
		return ActionRenew, subject{}
	case strings.HasPrefix(path, "auth/") && strings.HasSuffix(path, "/login"):
		return ActionLogin, subject{}
	}
	if _, rel, ok := mountOf(r, path, "transit", m.Transit); ok {
		switch seg, _, _ := strings.Cut(rel, "/"); seg {
		case "encrypt":
			return ActionEncrypt, subject{}
		case "decrypt":
			return ActionDecrypt, subject{}
		case "hmac":
			return ActionHMAC, subject{}
		case "rewrap":
			return ActionRewrap, subject{}
		}
		return ActionOther, subject{}
	}
	if _, rel, ok := mountOf(r, path, "kv", m.KV); ok {
		return classifyKV(rel, op, r)
	}
	return ActionOther, subject{}
}

// mountOf reports whether the call went to a mount of the given type (by the
// entry's mount_type, or by the configured mount path when the entry has
// none) and returns the path below the mount.
func mountOf(r *Record, path, typ, configured string) (mount, rel string, ok bool) {
	if r.Req.MountType != "" {
		if r.Req.MountType != typ {
			return "", "", false
		}
		mp := strings.Trim(r.Req.MountPoint, "/")
		if mp != "" && (path == mp || strings.HasPrefix(path, mp+"/")) {
			return mp, strings.TrimPrefix(strings.TrimPrefix(path, mp), "/"), true
		}
	}
	if path == configured || strings.HasPrefix(path, configured+"/") {
		return configured, strings.TrimPrefix(strings.TrimPrefix(path, configured), "/"), true
	}
	return "", "", false
}

// classifyKV classifies a call below a KV v2 mount: rel is
// "<data|metadata|delete|destroy|undelete>/<logical path>".
func classifyKV(rel, op string, r *Record) (Action, subject) {
	kind, lp, _ := strings.Cut(rel, "/")
	ref := layout.Parse(lp)
	write := op == "create" || op == "update"
	remove := op == "delete" || kind == "delete" || kind == "destroy"
	switch {
	case ref.Area == layout.AreaSandboxes && ref.Depth >= 2:
		return ActionProvision, subject{sandboxID: ref.ID}
	case ref.Area == layout.AreaAPIKeys:
		return ActionAPIKey, subject{}
	case ref.Area != layout.AreaUsers || ref.Depth < 2:
		return ActionOther, subject{}
	}
	s := subject{user: ref.User}
	if ref.Depth < 3 {
		return actionForOp(op, kind), s
	}
	switch ref.Sub {
	case layout.SubAPIKeys:
		return ActionAPIKey, s
	case layout.SubSecrets:
		if ref.Depth < 4 {
			if op == "list" {
				return ActionList, s
			}
			return actionForOp(op, kind), s
		}
		s.secretID = ref.ID
		switch {
		case remove:
			return ActionDelete, s
		case kind == "data" && write:
			if op == "create" || (r.Resp != nil && r.Resp.Version == 1) {
				return ActionCreate, s
			}
			return ActionRotate, s
		case kind == "metadata" && write:
			return ActionWrite, s
		case kind == "undelete":
			return ActionWrite, s
		}
		return ActionRead, s
	case layout.SubNames:
		switch {
		case ref.Depth < 4 && op == "list":
			return ActionList, s
		case remove:
			return ActionDelete, s
		case kind == "data" && write:
			return ActionCreate, s // reservation (cas=0) or takeover of an orphaned name
		}
		return ActionRead, s
	}
	return actionForOp(op, kind), s
}

func actionForOp(op, kind string) Action {
	switch {
	case op == "list":
		return ActionList
	case op == "delete" || kind == "delete" || kind == "destroy":
		return ActionDelete
	case op == "read":
		return ActionRead
	}
	return ActionOther
}
