package vaultx

import (
	"net/http/httptest"
	"testing"
)

func TestOperationNames(t *testing.T) {
	tr := &countingTransport{kv: "broker", transit: "transit"}
	cases := []struct {
		method, path, wrap, want string
	}{
		{"GET", "/v1/broker/data/users/u1/secrets/abc", "", "kv_read"},
		{"POST", "/v1/broker/data/users/u1/secrets/abc", "", "kv_write"},
		{"GET", "/v1/broker/data/sandboxes/sb1", "5m", "kv_wrapped_read"},
		{"LIST", "/v1/broker/metadata/users/u1/secrets", "", "kv_list"},
		{"GET", "/v1/broker/metadata/users/u1/secrets/abc", "", "kv_metadata_read"},
		{"DELETE", "/v1/broker/metadata/sandboxes/sb1", "", "kv_delete"},
		{"POST", "/v1/transit/decrypt/broker-secrets", "", "transit_decrypt"},
		{"POST", "/v1/auth/approle/login", "", "login"},
		{"POST", "/v1/auth/token/revoke-accessor", "", "revoke_accessor"},
		{"GET", "/v1/sys/health", "", "health"},
		{"GET", "/v1/secret/data/x", "", "other"},
	}
	for _, c := range cases {
		r := httptest.NewRequest(c.method, c.path, nil)
		if c.wrap != "" {
			r.Header.Set("X-Vault-Wrap-TTL", c.wrap)
		}
		if got := tr.operation(r); got != c.want {
			t.Errorf("%s %s = %q, want %q", c.method, c.path, got, c.want)
		}
	}
}
