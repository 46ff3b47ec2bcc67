package auditlog

import (
	"fmt"
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	m := Mounts{}.withDefaults()
	for _, c := range []struct {
		path, op, mountType, mountPoint string
		version                         int
		want                            Action
		user, secret, sandbox           string
	}{
		{"broker/data/users/u1/names/K", "create", "kv", "broker/", 0, ActionCreate, "u1", "", ""},
		{"broker/data/users/u1/names/K", "update", "kv", "broker/", 0, ActionCreate, "u1", "", ""},
		{"broker/data/users/u1/names/K", "read", "kv", "broker/", 0, ActionRead, "u1", "", ""},
		{"broker/metadata/users/u1/names/K", "delete", "kv", "broker/", 0, ActionDelete, "u1", "", ""},
		{"broker/data/users/u1/secrets/s1", "create", "kv", "broker/", 1, ActionCreate, "u1", "s1", ""},
		{"broker/data/users/u1/secrets/s1", "update", "kv", "broker/", 1, ActionCreate, "u1", "s1", ""},
		{"broker/data/users/u1/secrets/s1", "update", "kv", "broker/", 4, ActionRotate, "u1", "s1", ""},
		{"broker/data/users/u1/secrets/s1", "read", "kv", "broker/", 0, ActionRead, "u1", "s1", ""},
		{"broker/metadata/users/u1/secrets/s1", "update", "kv", "broker/", 0, ActionWrite, "u1", "s1", ""},
		{"broker/metadata/users/u1/secrets/s1", "delete", "kv", "broker/", 0, ActionDelete, "u1", "s1", ""},
		{"broker/destroy/users/u1/secrets/s1", "update", "kv", "broker/", 0, ActionDelete, "u1", "s1", ""},
		{"broker/metadata/users/u1/secrets/", "list", "kv", "broker/", 0, ActionList, "u1", "", ""},
		{"broker/data/users/u1/apikeys/ab", "create", "kv", "broker/", 0, ActionAPIKey, "u1", "", ""},
		{"broker/data/apikeys/ab", "read", "kv", "broker/", 0, ActionAPIKey, "", "", ""},
		{"broker/data/sandboxes/sb1", "create", "kv", "broker/", 0, ActionProvision, "", "", "sb1"},
		{"broker/data/sandboxes/sb1", "read", "", "", 0, ActionProvision, "", "", "sb1"}, // denied: no mount type
		{"kv2/data/users/u2/secrets/s2", "update", "kv", "kv2/", 3, ActionRotate, "u2", "s2", ""},
		{"secret/data/users/u2/secrets/s2", "read", "", "", 0, ActionOther, "", "", ""},
		{"transit/encrypt/broker-secrets", "update", "transit", "transit/", 0, ActionEncrypt, "", "", ""},
		{"transit/decrypt/broker-secrets", "update", "", "", 0, ActionDecrypt, "", "", ""},
		{"transit/hmac/broker-secrets/sha2-256", "update", "transit", "transit/", 0, ActionHMAC, "", "", ""},
		{"transit/rewrap/broker-secrets", "update", "transit", "transit/", 0, ActionRewrap, "", "", ""},
		{"transit/keys/broker-secrets/rotate", "update", "transit", "transit/", 0, ActionOther, "", "", ""},
		{"sys/wrapping/unwrap", "update", "system", "sys/", 0, ActionUnwrap, "", "", ""},
		{"sys/wrapping/lookup", "update", "system", "sys/", 0, ActionLookup, "", "", ""},
		{"auth/token/revoke-accessor", "update", "token", "auth/token/", 0, ActionRevoke, "", "", ""},
		{"auth/approle/login", "update", "approle", "auth/approle/", 0, ActionLogin, "", "", ""},
		{"auth/token/renew-self", "update", "token", "auth/token/", 0, ActionRenew, "", "", ""},
		{"sys/mounts", "read", "system", "sys/", 0, ActionOther, "", "", ""},
	} {
		r := &Record{Type: "response", Req: Request{Path: c.path, Operation: c.op, MountType: c.mountType, MountPoint: c.mountPoint},
			Resp: &Response{Version: c.version}}
		got, s := classify(r, m)
		if got != c.want || s.user != c.user || s.secretID != c.secret || s.sandboxID != c.sandbox {
			t.Errorf("%s %s: %s %+v, want %s %s/%s/%s", c.op, c.path, got, s, c.want, c.user, c.secret, c.sandbox)
		}
	}
}

// A key rotation run (one request id: transit rewrap, then new KV versions)
// is labelled rewrap, not rotate.
func TestStreamKeyRotationIsRewrap(t *testing.T) {
	var b strings.Builder
	sec := 0
	line := func(id, typ, mountType, mount, path, resp string) {
		sec++
		fmt.Fprintf(&b, `{"type":%q,"time":"2026-11-28T13:00:%02dZ","request":{"id":%q,"path":%q,"operation":"update",`+
			`"mount_type":%q,"mount_point":%q,"headers":{"x-request-id":["rewrap-1"],"x-broker-user":["u1"]}}%s}`+"\n",
			typ, sec, id, path, mountType, mount, resp)
	}
	line("1", "request", "transit", "transit/", "transit/rewrap/broker-secrets", "")
	line("1", "response", "transit", "transit/", "transit/rewrap/broker-secrets", `,"response":{}`)
	line("2", "request", "kv", "broker/", "broker/data/users/u1/secrets/s1", "")
	line("2", "response", "kv", "broker/", "broker/data/users/u1/secrets/s1", `,"response":{"data":{"version":3}}`)
	s := NewStream(Options{})
	s.Write([]byte(b.String()))
	es := s.Close()
	if len(es) != 2 {
		t.Fatalf("%d entries: %+v (stats %+v)", len(es), es, s.Stats())
	}
	for _, e := range es {
		if e.Action != ActionRewrap || e.User != "u1" {
			t.Fatalf("%s %s: action %s user %q", e.Call, e.Path, e.Action, e.User)
		}
	}
	if es[1].Call != ActionRotate || es[1].SecretID != "s1" || es[0].SecretID != "s1" {
		t.Fatalf("the KV write: %+v", es[1])
	}
}
