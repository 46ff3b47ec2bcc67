package broker

import (
	"encoding/json"
	"slices"
	"testing"
)

// TestHostListJSON: none encodes as [] (nil or empty), [] and null decode
// as nil, hosts round-trip, and a malformed list is an error.
func TestHostListJSON(t *testing.T) {
	for _, h := range []HostList{nil, {}} {
		if b, err := json.Marshal(h); err != nil || string(b) != "[]" {
			t.Fatalf("Marshal(%#v) = %s, %v", h, b, err)
		}
	}
	if b, err := json.Marshal(HostList{"a.example.com", "<b>"}); err != nil || string(b) != `["a.example.com","\u003cb\u003e"]` {
		t.Fatalf("Marshal(hosts) = %s, %v", b, err)
	}
	for _, in := range []string{`[]`, `null`, ` [ ] `, "\n[]"} {
		h := HostList{"stale"}
		if err := json.Unmarshal([]byte(in), &h); err != nil || h != nil {
			t.Fatalf("Unmarshal(%q) = %#v, %v", in, h, err)
		}
	}
	var h HostList
	if err := json.Unmarshal([]byte(`["a.example.com","b.example.com"]`), &h); err != nil || !slices.Equal(h, HostList{"a.example.com", "b.example.com"}) {
		t.Fatalf("Unmarshal(hosts) = %#v, %v", h, err)
	}
	for _, bad := range []string{`"a.example.com"`, `[1]`, `{}`} {
		if err := json.Unmarshal([]byte(bad), &h); err == nil {
			t.Fatalf("Unmarshal(%q) accepted", bad)
		}
	}
	var s Secret
	if err := json.Unmarshal([]byte(`{"id":"x","egress_hosts":null}`), &s); err != nil || s.EgressHosts != nil {
		t.Fatalf("a Secret with egress_hosts null: %#v, %v", s.EgressHosts, err)
	}
}
