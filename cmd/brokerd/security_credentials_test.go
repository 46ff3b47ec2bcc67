package main

import (
	"io"
	"net/http"
	"testing"
	"time"
)

// TestSecurityConflictingCredentials: a request carries exactly one
// credential. An X-API-Key with a bearer key that differs, or two X-API-Key
// headers, answer 400 (never "act as the first"); an Authorization header
// other than "Bearer <key>" (Bearer:KEY, no space) is 401; the same key in
// both headers is accepted.
func TestSecurityConflictingCredentials(t *testing.T) {
	e := newAPIEnv(t)
	b := e.broker(false, nil)
	_, keyA := e.user("cred-a")
	_, keyB := e.user("cred-b")
	a := e.client(b, keyA)

	r := a.do("GET", "/api/v1/user/secrets", nil, "Authorization", "Bearer "+keyB)
	checkEnvelope(t, r, http.StatusBadRequest, "validation_error")
	r = a.do("GET", "/api/v1/user/secrets", nil, "Authorization", "Bearer "+keyA)
	wantStatus(t, r, http.StatusOK)
	r = e.client(b, "").do("GET", "/api/v1/user/secrets", nil, "Authorization", "Bearer:"+keyA)
	checkEnvelope(t, r, http.StatusUnauthorized, "authentication_error")
	r = e.client(b, "").do("GET", "/api/v1/user/secrets", nil, "Authorization", "Bearer  "+keyA)
	checkEnvelope(t, r, http.StatusUnauthorized, "authentication_error")
	r = e.client(b, "").do("GET", "/api/v1/user/secrets", nil, "Authorization", "bearer "+keyA)
	wantStatus(t, r, http.StatusOK)

	hc := &http.Client{Timeout: 30 * time.Second}
	raw := func(h http.Header) int {
		t.Helper()
		req, err := http.NewRequest("GET", b.URL+"/api/v1/user/secrets", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header = h
		res, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		_, _ = io.Copy(io.Discard, res.Body)
		return res.StatusCode
	}
	for name, h := range map[string]http.Header{
		"two X-API-Key (valid first)":  {"X-Api-Key": {keyA, "sbk_" + randHex(24)}},
		"two X-API-Key (both valid)":   {"X-Api-Key": {keyA, keyB}},
		"two X-API-Key (same)":         {"X-Api-Key": {keyA, keyA}},
		"two Authorization":            {"Authorization": {"Bearer " + keyA, "Bearer " + keyB}},
		"X-API-Key and another bearer": {"X-Api-Key": {keyB}, "Authorization": {"Bearer " + keyA}},
	} {
		if got := raw(h); got != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", name, got)
		}
	}
}
