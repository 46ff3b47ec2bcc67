package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/acme/secretsbroker/internal/testenv"
	"github.com/acme/secretsbroker/vaultx"
)

// TestAPISecretsCRUD walks the seven documented endpoints with exact field
// names and JSON types: list, create (provider null), get, rotate, presets,
// create from preset (provider set), delete.
func TestAPISecretsCRUD(t *testing.T) {
	e := newAPIEnv(t)
	b := e.broker(true, nil)
	_, key := e.user("crud")
	c := e.client(b, key)

	// Empty list: {"secrets": [], "total": 0}, never null.
	r := c.do("GET", "/api/v1/user/secrets", nil)
	wantStatus(t, r, 200)
	m := decodeObj(t, r)
	checkKeys(t, "list", m, "secrets", "total")
	if len(arr(t, m, "secrets")) != 0 || num(t, m, "total") != 0 {
		t.Fatalf("fresh user's list: %s", r.Body)
	}

	// Presets: openai, anthropic, github built in, none configured.
	r = c.do("GET", "/api/v1/user/secrets/presets", nil)
	wantStatus(t, r, 200)
	pm := decodeObj(t, r)
	checkKeys(t, "presets answer", pm, "presets")
	presets := map[string]map[string]any{}
	for _, p := range arr(t, pm, "presets") {
		po := p.(map[string]any)
		checkKeys(t, "preset", po, "provider", "env_var_name", "configured", "egress_hosts")
		presets[str(t, po, "provider")] = po
		if boolean(t, po, "configured") {
			t.Errorf("fresh user has preset %v configured", po)
		}
	}
	for prov, env := range map[string]string{"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "github": "GITHUB_TOKEN"} {
		if presets[prov] == nil || presets[prov]["env_var_name"] != env {
			t.Errorf("preset %s: %v, want env_var_name %s", prov, presets[prov], env)
		}
	}

	// Create without provider: 201, provider is JSON null, preview masks.
	v1 := value("sk-test")
	before := time.Now().Add(-2 * time.Second)
	r = c.do("POST", "/api/v1/user/secrets", map[string]any{"name": "MY_TOKEN", "value": v1})
	wantStatus(t, r, 201)
	s := secretOf(t, r)
	if s["provider"] != nil {
		t.Errorf("provider = %#v, want null", s["provider"])
	}
	if !strings.Contains(string(r.Body), `"provider":null`) {
		t.Errorf("provider is not serialised as null: %s", r.Body)
	}
	if s["name"] != "MY_TOKEN" || num(t, s, "version") != 1 {
		t.Errorf("created: %s", r.Body)
	}
	mv := str(t, s, "masked_value")
	if strings.Contains(mv, v1[8:]) || !strings.Contains(mv, "••••") {
		t.Errorf("masked_value %q reveals too much or has no mask", mv)
	}
	if ca := rfc3339(t, s, "created_at"); ca.Before(before) || ca.After(time.Now().Add(2*time.Second)) {
		t.Errorf("created_at %s is not now", ca)
	}
	id := str(t, s, "id")

	// Get: the same object.
	r = c.do("GET", "/api/v1/user/secrets/"+id, nil)
	wantStatus(t, r, 200)
	g := secretOf(t, r)
	for _, k := range []string{"id", "name", "masked_value", "fingerprint", "created_at"} {
		if g[k] != s[k] {
			t.Errorf("get %s = %v, create said %v", k, g[k], s[k])
		}
	}

	// Rotate: new version, new preview and fingerprint, same created_at.
	v2 := value("sk-test-rotated")
	r = c.do("PUT", "/api/v1/user/secrets/"+id, map[string]any{"value": v2})
	wantStatus(t, r, 200)
	u := secretOf(t, r)
	if num(t, u, "version") != 2 || u["fingerprint"] == s["fingerprint"] || u["created_at"] != s["created_at"] || u["id"] != id {
		t.Errorf("rotate: %s (was %v)", r.Body, s)
	}
	if !rfc3339(t, u, "updated_at").After(rfc3339(t, s, "updated_at")) {
		t.Errorf("updated_at did not move: %v -> %v", s["updated_at"], u["updated_at"])
	}

	// Create from preset (bearer auth): named after the env var, provider set.
	cb := c.asBearer()
	v3 := value("sk-proj-openai")
	r = cb.do("POST", "/api/v1/user/secrets/preset", map[string]any{"provider": "openai", "value": v3})
	wantStatus(t, r, 201)
	p := secretOf(t, r)
	if p["name"] != "OPENAI_API_KEY" || p["provider"] != "openai" {
		t.Errorf("preset secret: %s", r.Body)
	}
	// The same preset again: 409.
	r = cb.do("POST", "/api/v1/user/secrets/preset", map[string]any{"provider": "openai", "value": value("sk-again")})
	checkEnvelope(t, r, 409, "conflict")

	// Presets now say openai is configured.
	r = c.do("GET", "/api/v1/user/secrets/presets", nil)
	for _, x := range arr(t, decodeObj(t, r), "presets") {
		po := x.(map[string]any)
		if got, want := po["configured"], po["provider"] == "openai"; got != want {
			t.Errorf("preset %v configured = %v, want %v", po["provider"], got, want)
		}
	}

	// List: both, sorted by name, total 2, exact objects.
	r = c.do("GET", "/api/v1/user/secrets", nil)
	wantStatus(t, r, 200)
	m = decodeObj(t, r)
	list := arr(t, m, "secrets")
	if num(t, m, "total") != 2 || len(list) != 2 {
		t.Fatalf("list: %s", r.Body)
	}
	for _, x := range list {
		checkSecret(t, x.(map[string]any))
	}
	if list[0].(map[string]any)["name"] != "MY_TOKEN" || list[1].(map[string]any)["name"] != "OPENAI_API_KEY" {
		t.Errorf("list not sorted by name: %s", r.Body)
	}
	if list[0].(map[string]any)["version"] != float64(2) {
		t.Errorf("list shows a stale version: %s", r.Body)
	}

	// Delete: 204 with no body; then 404 everywhere, and the name is free again.
	r = c.do("DELETE", "/api/v1/user/secrets/"+id, nil)
	wantStatus(t, r, 204)
	if len(r.Body) != 0 {
		t.Errorf("204 with a body: %q", r.Body)
	}
	for _, rq := range []struct{ m, p string }{{"GET", ""}, {"DELETE", ""}, {"GET", "/versions"}} {
		checkEnvelope(t, c.do(rq.m, "/api/v1/user/secrets/"+id+rq.p, nil), 404, "not_found")
	}
	r = c.do("GET", "/api/v1/user/secrets", nil)
	if num(t, decodeObj(t, r), "total") != 1 {
		t.Errorf("after delete: %s", r.Body)
	}
	r = c.do("POST", "/api/v1/user/secrets", map[string]any{"name": "MY_TOKEN", "value": value("sk-reuse"), "provider": "custom"})
	wantStatus(t, r, 201)
	if secretOf(t, r)["provider"] != "custom" {
		t.Errorf("explicit provider: %s", r.Body)
	}

	// A value of exactly 64 KiB is accepted.
	big := value("sk-big") + strings.Repeat("x", 64<<10)
	big = big[:64<<10]
	planted.add("secret value", big)
	r = c.do("POST", "/api/v1/user/secrets", map[string]any{"name": "BIG_ONE", "value": big})
	wantStatus(t, r, 201)
}

// TestAPIAuthentication: X-API-Key and Authorization: Bearer both work; a
// missing, malformed or unknown key is a 401 envelope on every API route, and
// the unauthenticated routes need none.
func TestAPIAuthentication(t *testing.T) {
	e := newAPIEnv(t)
	b := e.broker(true, nil)
	_, key := e.user("auth")
	c := e.client(b, key)

	wantStatus(t, c.do("GET", "/api/v1/user/secrets", nil), 200)
	wantStatus(t, c.asBearer().do("GET", "/api/v1/user/secrets", nil), 200)
	wantStatus(t, c.withKey("").do("GET", "/api/v1/user/secrets", nil, "Authorization", "bearer "+key), 200)

	anon := c.withKey("")
	for _, rq := range []struct{ m, p string }{
		{"GET", "/api/v1/user/secrets"}, {"POST", "/api/v1/user/secrets"}, {"GET", "/api/v1/user/secrets/presets"},
		{"POST", "/api/v1/user/secrets/preset"}, {"GET", "/api/v1/runtimes"}, {"POST", "/api/v1/evaluations"},
	} {
		r := anon.do(rq.m, rq.p, map[string]any{"name": "X", "value": "y"})
		m := checkEnvelope(t, r, 401, "authentication_error")
		if !strings.Contains(str(t, m, "detail"), "X-API-Key") {
			t.Errorf("missing key: detail %q does not say how to authenticate", m["detail"])
		}
	}
	unknown := "sbk_" + randHex(24)
	planted.add("api key", unknown)
	for _, bad := range []struct{ name, k, v string }{
		{"unknown key", "X-API-Key", unknown},
		{"unknown bearer", "Authorization", "Bearer " + unknown},
		{"short key", "X-API-Key", "x"},
		{"basic auth", "Authorization", "Basic " + key},
	} {
		r := anon.do("GET", "/api/v1/user/secrets", nil, bad.k, bad.v)
		checkEnvelope(t, r, 401, "authentication_error")
	}
	for _, p := range []string{"/healthz", "/readyz", "/openapi.json"} {
		wantStatus(t, anon.do("GET", p, nil), 200)
	}
}

// TestAPIValidationWritesNothing: every kind of bad input answers the error
// envelope naming the field, and afterwards nothing was written: the list and
// every KV entry under the user's path are unchanged.
func TestAPIValidationWritesNothing(t *testing.T) {
	e := newAPIEnv(t)
	b := e.broker(true, map[string]string{"BROKER_RATE_BURST": "1000"})
	user, key := e.user("val")
	c := e.client(b, key)
	r := c.do("POST", "/api/v1/user/secrets", map[string]any{"name": "EXISTING", "value": value("sk-existing")})
	wantStatus(t, r, 201)
	id := str(t, secretOf(t, r), "id")

	snapshot := func() (string, string) {
		r := c.do("GET", "/api/v1/user/secrets", nil)
		wantStatus(t, r, 200)
		return string(r.Body), kvTree(t, e.root, user)
	}
	list0, kv0 := snapshot()
	if !strings.Contains(kv0, "/names/EXISTING") || !strings.Contains(kv0, "/secrets/"+id) {
		t.Fatalf("KV snapshot does not see the user's entries:\n%s", kv0)
	}

	ok := value("sk-ok-value")
	long := strings.Repeat("A", 129)
	huge := `{"name":"HUGE","value":"` + strings.Repeat("a", 1<<20) + `"}`
	tooBig := value("sk-too-big") + strings.Repeat("z", 64<<10)
	planted.add("secret value", tooBig)
	nul := value("sk-nul") + "\x00tail"
	planted.add("secret value", nul)

	type tc struct {
		name, method, path string
		body               any
		status             int
		typ                string
		fields             []string
	}
	sec := "/api/v1/user/secrets"
	cases := []tc{
		{"name starts with a digit", "POST", sec, map[string]any{"name": "1ABC", "value": ok}, 422, "validation_error", []string{"name"}},
		{"name with a dash", "POST", sec, map[string]any{"name": "MY-KEY", "value": ok}, 422, "validation_error", []string{"name"}},
		{"name with a space", "POST", sec, map[string]any{"name": "MY KEY", "value": ok}, 422, "validation_error", []string{"name"}},
		{"empty name", "POST", sec, map[string]any{"name": "", "value": ok}, 422, "validation_error", []string{"name"}},
		{"name 129 characters", "POST", sec, map[string]any{"name": long, "value": ok}, 422, "validation_error", []string{"name"}},
		{"missing name and value", "POST", sec, map[string]any{}, 422, "validation_error", []string{"name", "value"}},
		{"empty value", "POST", sec, map[string]any{"name": "FINE_NAME", "value": ""}, 422, "validation_error", []string{"value"}},
		{"NUL byte in value", "POST", sec, map[string]any{"name": "FINE_NAME", "value": nul}, 422, "validation_error", []string{"value"}},
		{"value over 64 KiB", "POST", sec, map[string]any{"name": "FINE_NAME", "value": tooBig}, 422, "validation_error", []string{"value"}},
		{"bad provider", "POST", sec, map[string]any{"name": "FINE_NAME", "value": ok, "provider": "Open AI"}, 422, "validation_error", []string{"provider"}},
		{"name is a number", "POST", sec, `{"name": 5, "value": "x"}`, 422, "validation_error", []string{"name"}},
		{"value is a boolean", "POST", sec, `{"name": "FINE_NAME", "value": true}`, 422, "validation_error", []string{"value"}},
		{"provider is a number", "POST", sec, `{"name": "FINE_NAME", "value": "x", "provider": 7}`, 422, "validation_error", []string{"provider"}},
		{"body is an array", "POST", sec, `[{"name": "FINE_NAME"}]`, 422, "validation_error", []string{"body"}},
		{"malformed JSON", "POST", sec, `{"name": "FINE_NAME", "value": `, 422, "validation_error", []string{"body"}},
		{"two JSON objects", "POST", sec, `{"name":"FINE_NAME","value":"x"} {}`, 422, "validation_error", []string{"body"}},
		{"empty body", "POST", sec, "", 422, "validation_error", []string{"body"}},
		{"body over 1 MiB", "POST", sec, huge, 413, "payload_too_large", nil},
		{"existing name", "POST", sec, map[string]any{"name": "EXISTING", "value": ok}, 409, "conflict", nil},
		{"unknown preset", "POST", sec + "/preset", map[string]any{"provider": "nosuch", "value": ok}, 422, "validation_error", []string{"provider"}},
		{"preset without value", "POST", sec + "/preset", map[string]any{"provider": "github"}, 422, "validation_error", []string{"value"}},
		{"preset body over 1 MiB", "POST", sec + "/preset", huge, 413, "payload_too_large", nil},
		{"rotate to empty", "PUT", sec + "/" + id, map[string]any{"value": ""}, 422, "validation_error", []string{"value"}},
		{"rotate with NUL", "PUT", sec + "/" + id, map[string]any{"value": nul}, 422, "validation_error", []string{"value"}},
		{"rotate value a number", "PUT", sec + "/" + id, `{"value": 12}`, 422, "validation_error", []string{"value"}},
		{"rotate body over 1 MiB", "PUT", sec + "/" + id, huge, 413, "payload_too_large", nil},
		{"rotate malformed JSON", "PUT", sec + "/" + id, `{"value"`, 422, "validation_error", []string{"body"}},
		{"rollback to version 0", "POST", sec + "/" + id + "/rollback", map[string]any{"version": 0}, 422, "validation_error", []string{"version"}},
		{"rollback to a missing version", "POST", sec + "/" + id + "/rollback", map[string]any{"version": 99}, 422, "validation_error", []string{"version"}},
		{"rollback version a string", "POST", sec + "/" + id + "/rollback", `{"version": "1"}`, 422, "validation_error", []string{"version"}},
		{"rollback body over 1 MiB", "POST", sec + "/" + id + "/rollback", huge, 413, "payload_too_large", nil},
		{"runtime without project", "POST", "/api/v1/runtimes", map[string]any{"secret_ids": []string{id}}, 422, "validation_error", []string{"project_id"}},
		{"runtime ids not strings", "POST", "/api/v1/runtimes", `{"project_id": "p1", "secret_ids": [1]}`, 422, "validation_error", nil},
		{"runtime unknown secret", "POST", "/api/v1/runtimes", map[string]any{"project_id": "p1", "secret_ids": []string{"7d4f5a2e-1c3b-4d5e-8f90-123456789abc"}}, 404, "not_found", nil},
		{"evaluation without items", "POST", "/api/v1/evaluations", map[string]any{"project_id": "p1", "secret_ids": []string{id}, "items": []any{}}, 422, "validation_error", []string{"items"}},
		{"evaluation item without name", "POST", "/api/v1/evaluations", map[string]any{"project_id": "p1", "secret_ids": []string{id}, "items": []any{map[string]any{}}}, 422, "validation_error", []string{"items[0].name"}},
		{"evaluation body over 1 MiB", "POST", "/api/v1/evaluations", huge, 413, "payload_too_large", nil},
		{"bad Idempotency-Key", "POST", sec, map[string]any{"name": "FINE_NAME", "value": ok}, 422, "validation_error", []string{"Idempotency-Key"}},
	}
	for _, name := range []string{"PATH", "path", "HOME", "SHELL", "IFS", "ENV", "BASH_ENV", "LD_PRELOAD", "LD_LIBRARY_PATH", "ld_audit",
		"DYLD_INSERT_LIBRARIES", "PYTHONPATH", "PYTHONSTARTUP", "NODE_OPTIONS", "PERL5OPT", "RUBYOPT", "JAVA_TOOL_OPTIONS",
		"VAULT_TOKEN", "VAULT_ADDR", "BROKER_X", "broker_api_key"} {
		cases = append(cases, tc{"reserved " + name, "POST", sec, map[string]any{"name": name, "value": ok}, 422, "validation_error", []string{"name"}})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.name == "bad Idempotency-Key" {
				hdr = []string{"Idempotency-Key", "has spaces in it"}
			}
			r := c.do(tc.method, tc.path, tc.body, hdr...)
			m := checkEnvelope(t, r, tc.status, tc.typ, tc.fields...)
			if tc.status == 422 && m["errors"] == nil {
				t.Errorf("422 without errors[]: %s", r.Body)
			}
			if strings.Contains(string(r.Body), ok) {
				t.Errorf("the answer quotes the value: %s", r.Body)
			}
			list, kv := snapshot()
			if list != list0 {
				t.Errorf("list changed:\nbefore %s\nafter  %s", list0, list)
			}
			if kv != kv0 {
				t.Errorf("KV changed:\nbefore %s\nafter  %s", kv0, kv)
			}
		})
	}
}

// TestAPIMaxSecretsPerUser: the per-user cap answers the envelope with an
// actionable message, and writes nothing.
func TestAPIMaxSecretsPerUser(t *testing.T) {
	e := newAPIEnv(t)
	b := e.broker(true, map[string]string{"BROKER_MAX_SECRETS_PER_USER": "3"})
	user, key := e.user("cap")
	c := e.client(b, key)
	for _, n := range []string{"A1", "A2", "A3"} {
		wantStatus(t, c.do("POST", "/api/v1/user/secrets", map[string]any{"name": n, "value": value("sk-cap")}), 201)
	}
	list0 := string(c.do("GET", "/api/v1/user/secrets", nil).Body)
	kv0 := kvTree(t, e.root, user)
	for _, req := range []struct {
		path string
		body map[string]any
	}{
		{"/api/v1/user/secrets", map[string]any{"name": "A4", "value": value("sk-cap")}},
		{"/api/v1/user/secrets/preset", map[string]any{"provider": "anthropic", "value": value("sk-cap")}},
	} {
		r := c.do("POST", req.path, req.body)
		m := checkEnvelope(t, r, 422, "validation_error", "name")
		if d := str(t, m, "detail"); !strings.Contains(d, "3") || !strings.Contains(d, "delete") {
			t.Errorf("detail %q is not actionable", d)
		}
	}
	if got := string(c.do("GET", "/api/v1/user/secrets", nil).Body); got != list0 {
		t.Errorf("list changed: %s", got)
	}
	if kv := kvTree(t, e.root, user); kv != kv0 {
		t.Errorf("KV changed:\n%s\n%s", kv0, kv)
	}
	// Rotating is not creating: still allowed at the cap.
	var l struct{ Secrets []struct{ ID string } }
	json.Unmarshal([]byte(list0), &l)
	wantStatus(t, c.do("PUT", "/api/v1/user/secrets/"+l.Secrets[0].ID, map[string]any{"value": value("sk-cap-rot")}), 200)
}

// TestAPIVersionsAndRollback: two rotates give three versions with one
// current; rolling back to 1 makes version 4 with version 1's preview and
// fingerprint, while the old versions stay.
func TestAPIVersionsAndRollback(t *testing.T) {
	e := newAPIEnv(t)
	b := e.broker(true, nil)
	_, key := e.user("ver")
	c := e.client(b, key)
	vals := []string{value("sk-version-one"), value("sk-version-two"), value("sk-version-three")}
	r := c.do("POST", "/api/v1/user/secrets", map[string]any{"name": "ROTATED", "value": vals[0]})
	wantStatus(t, r, 201)
	id := str(t, secretOf(t, r), "id")
	for _, v := range vals[1:] {
		wantStatus(t, c.do("PUT", "/api/v1/user/secrets/"+id, map[string]any{"value": v}), 200)
	}
	versions := func(want int) []map[string]any {
		t.Helper()
		r := c.do("GET", "/api/v1/user/secrets/"+id+"/versions", nil)
		wantStatus(t, r, 200)
		m := decodeObj(t, r)
		checkKeys(t, "versions answer", m, "versions", "total")
		var out []map[string]any
		for i, x := range arr(t, m, "versions") {
			v := x.(map[string]any)
			checkKeys(t, "version", v, "version", "created_at", "masked_value", "fingerprint", "current", "destroyed")
			rfc3339(t, v, "created_at")
			if num(t, v, "version") != i+1 || boolean(t, v, "destroyed") || str(t, v, "fingerprint") == "" || str(t, v, "masked_value") == "" {
				t.Errorf("version %d: %v", i+1, v)
			}
			if boolean(t, v, "current") != (i+1 == want) {
				t.Errorf("version %d current = %v, want only %d current", i+1, v["current"], want)
			}
			out = append(out, v)
		}
		if len(out) != want || num(t, m, "total") != want {
			t.Fatalf("versions: %s, want %d", r.Body, want)
		}
		return out
	}
	vs := versions(3)
	fps := map[string]bool{}
	for _, v := range vs {
		fps[v["fingerprint"].(string)] = true
	}
	if len(fps) != 3 {
		t.Errorf("three values, %d fingerprints", len(fps))
	}

	r = c.do("POST", "/api/v1/user/secrets/"+id+"/rollback", map[string]any{"version": 1})
	wantStatus(t, r, 200)
	s := secretOf(t, r)
	if num(t, s, "version") != 4 || s["masked_value"] != vs[0]["masked_value"] || s["fingerprint"] != vs[0]["fingerprint"] {
		t.Errorf("rollback answer %s, want version 4 with version 1's preview %v and fingerprint %v", r.Body, vs[0]["masked_value"], vs[0]["fingerprint"])
	}
	vs4 := versions(4)
	if vs4[3]["masked_value"] != vs[0]["masked_value"] || vs4[3]["fingerprint"] != vs[0]["fingerprint"] {
		t.Errorf("version 4 %v, want version 1's preview and fingerprint", vs4[3])
	}
	g := secretOf(t, c.do("GET", "/api/v1/user/secrets/"+id, nil))
	if g["fingerprint"] != vs[0]["fingerprint"] || num(t, g, "version") != 4 {
		t.Errorf("current after rollback: %v", g)
	}
}

// TestAPIStorageIsCiphertext: Vault's own client with the root token sees,
// under the secret's KV path, transit ciphertext and metadata only: never the
// plaintext, in any version, in data or in custom metadata. The name index
// holds only the secret id.
func TestAPIStorageIsCiphertext(t *testing.T) {
	e := newAPIEnv(t)
	b := e.broker(true, nil)
	user, key := e.user("kv")
	c := e.client(b, key)
	v1, v2 := value("sk-kv-plain-one"), value("sk-kv-plain-two")
	r := c.do("POST", "/api/v1/user/secrets/preset", map[string]any{"provider": "github", "value": v1})
	wantStatus(t, r, 201)
	id := str(t, secretOf(t, r), "id")
	wantStatus(t, c.do("PUT", "/api/v1/user/secrets/"+id, map[string]any{"value": v2}), 200)

	mount := vaultx.DefaultKVMount
	for ver := 1; ver <= 2; ver++ {
		d, err := e.root.Logical().ReadWithData(mount+"/data/users/"+user+"/secrets/"+id, map[string][]string{"version": {string(rune('0' + ver))}})
		if err != nil || d == nil {
			t.Fatalf("read version %d: %v", ver, err)
		}
		data := d.Data["data"].(map[string]any)
		ct, _ := data["ciphertext"].(string)
		if !strings.HasPrefix(ct, "vault:v1:") {
			t.Errorf("version %d ciphertext %q, want vault:v1:...", ver, ct)
		}
		for k := range data {
			switch k {
			case "ciphertext", "masked_value", "fingerprint", "name", "provider":
			default:
				t.Errorf("version %d data has unexpected field %q", ver, k)
			}
		}
	}
	md, err := e.root.Logical().Read(mount + "/metadata/users/" + user + "/secrets/" + id)
	if err != nil || md == nil {
		t.Fatalf("read metadata: %v", err)
	}
	cm, _ := md.Data["custom_metadata"].(map[string]any)
	for _, k := range []string{"name", "provider", "masked_value", "fingerprint"} {
		if _, ok := cm[k]; !ok {
			t.Errorf("custom_metadata lacks %q: %v", k, cm)
		}
	}
	if cm["name"] != "GITHUB_TOKEN" || cm["provider"] != "github" {
		t.Errorf("custom_metadata %v", cm)
	}
	idx, err := e.root.Logical().Read(mount + "/data/users/" + user + "/names/GITHUB_TOKEN")
	if err != nil || idx == nil {
		t.Fatalf("read name index: %v", err)
	}
	if d := idx.Data["data"].(map[string]any); d["secret_id"] != id {
		t.Errorf("name index %v, want secret_id %s", d, id)
	}
	all := kvTree(t, e.root, user)
	for _, v := range []string{v1, v2} {
		for _, f := range testenv.Encodings(v) {
			if strings.Contains(all, f) {
				t.Fatalf("plaintext found under users/%s/ in Vault", user)
			}
		}
	}
	if !strings.Contains(all, "vault:v1:") {
		t.Fatalf("KV dump has no ciphertext: the check saw nothing")
	}
}

// TestAPIConfiguredPresetsAndRules: extra presets (BROKER_PRESETS), the
// reserved-name list (BROKER_DENIED_NAMES) and the value limit
// (BROKER_MAX_VALUE_BYTES) are configurable.
func TestAPIConfiguredPresetsAndRules(t *testing.T) {
	e := newAPIEnv(t)
	b := e.broker(true, map[string]string{
		"BROKER_PRESETS":         "mistral=MISTRAL_API_KEY",
		"BROKER_DENIED_NAMES":    "PATH,LD_*,INTERNAL_*",
		"BROKER_MAX_VALUE_BYTES": "40",
	})
	_, key := e.user("conf")
	c := e.client(b, key)
	r := c.do("GET", "/api/v1/user/secrets/presets", nil)
	wantStatus(t, r, 200)
	var provs []string
	for _, p := range arr(t, decodeObj(t, r), "presets") {
		provs = append(provs, p.(map[string]any)["provider"].(string)+"="+p.(map[string]any)["env_var_name"].(string))
	}
	if strings.Join(provs, ",") != "openai=OPENAI_API_KEY,anthropic=ANTHROPIC_API_KEY,github=GITHUB_TOKEN,mistral=MISTRAL_API_KEY" {
		t.Errorf("presets %v", provs)
	}
	r = c.do("POST", "/api/v1/user/secrets/preset", map[string]any{"provider": "mistral", "value": value("sk-m")})
	wantStatus(t, r, 201)
	if s := secretOf(t, r); s["name"] != "MISTRAL_API_KEY" || s["provider"] != "mistral" {
		t.Errorf("mistral preset: %s", r.Body)
	}
	checkEnvelope(t, c.do("POST", "/api/v1/user/secrets", map[string]any{"name": "INTERNAL_X", "value": value("sk-int")}), 422, "validation_error", "name")
	checkEnvelope(t, c.do("POST", "/api/v1/user/secrets", map[string]any{"name": "LD_PRELOAD", "value": value("sk-ld")}), 422, "validation_error", "name")
	long := value("sk-41") + strings.Repeat("y", 40)
	planted.add("secret value", long[:41])
	m := checkEnvelope(t, c.do("POST", "/api/v1/user/secrets", map[string]any{"name": "LONG_ONE", "value": long[:41]}), 422, "validation_error", "value")
	if !strings.Contains(str(t, m, "detail"), "40") {
		t.Errorf("detail %q does not state the limit", m["detail"])
	}
	wantStatus(t, c.do("POST", "/api/v1/user/secrets", map[string]any{"name": "FITS", "value": long[:40]}), 201)
	planted.add("secret value", long[:40])
}
