package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakeBroker stands in for the broker's HTTP API (not for Vault or Redis): it
// records every request and answers from a route table.
type fakeBroker struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []recorded
	routes map[string]func(w http.ResponseWriter, body []byte) // "METHOD /path"
}

type recorded struct {
	method, path string
	header       http.Header
	body         []byte
}

const (
	testKey     = "sbk_test_key_0123456789abcdefghij"
	secretID    = "6f1c2b3a-4d5e-4f60-8a1b-2c3d4e5f6a7b"
	secretJSON  = `{"id":"6f1c2b3a-4d5e-4f60-8a1b-2c3d4e5f6a7b","name":"OPENAI_API_KEY","provider":"openai","masked_value":"sk-p••••••••789","fingerprint":"hmac-12ab","version":3,"created_at":"2026-01-02T03:04:05Z","updated_at":"2026-02-03T04:05:06Z"}`
	presetsJSON = `{"presets":[{"provider":"openai","env_var_name":"OPENAI_API_KEY","configured":true},{"provider":"github","env_var_name":"GITHUB_TOKEN","configured":false}]}`
	listJSON    = `{"secrets":[` + secretJSON + `,{"id":"0a0b0c0d-0e0f-4a1b-8c2d-3e4f5a6b7c8d","name":"DB_URL","provider":null,"masked_value":"••••••••","fingerprint":"hmac-34cd","version":1,"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}],"total":2}`
)

func newFakeBroker(t *testing.T) *fakeBroker {
	f := &fakeBroker{t: t, routes: map[string]func(http.ResponseWriter, []byte){}}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, recorded{r.Method, r.URL.Path, r.Header.Clone(), body})
		h := f.routes[r.Method+" "+r.URL.Path]
		f.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+testKey {
			writeEnvelope(w, 401, `{"code":401,"type":"authentication_error","detail":"invalid API key"}`)
			return
		}
		if h == nil {
			writeEnvelope(w, 404, `{"code":404,"type":"not_found","detail":"no such route"}`)
			return
		}
		h(w, body)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeBroker) on(route string, status int, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes[route] = func(w http.ResponseWriter, _ []byte) {
		if status == http.StatusNoContent {
			w.WriteHeader(status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func (f *fakeBroker) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.reqs...)
}

func (f *fakeBroker) env() map[string]string {
	return map[string]string{"BROKER_URL": f.srv.URL, "BROKER_API_KEY": testKey}
}

func writeEnvelope(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// bodyKeys decodes a JSON object body and returns it as raw fields.
func bodyKeys(t *testing.T, b []byte) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("request body %q is not a JSON object: %v", b, err)
	}
	return m
}

func TestSecretsSetSendsExactBody(t *testing.T) {
	const value = "sk-proj-VERY-SECRET-value-1234567890"
	for _, withProvider := range []bool{false, true} {
		f := newFakeBroker(t)
		f.on("POST /api/v1/user/secrets", 201, secretJSON)
		args := []string{"secrets", "set", "OPENAI_API_KEY", "--idempotency-key", "idem-1"}
		if withProvider {
			args = append(args, "--provider", "openai")
		}
		r := runCLI(t, f.env(), value+"\n", args...)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		reqs := f.requests()
		if len(reqs) != 1 {
			t.Fatalf("%d requests, want 1", len(reqs))
		}
		req := reqs[0]
		m := bodyKeys(t, req.body)
		want := map[string]string{"name": `"OPENAI_API_KEY"`, "value": `"` + value + `"`}
		if withProvider {
			want["provider"] = `"openai"`
		}
		if len(m) != len(want) {
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			t.Fatalf("body fields %v, want exactly %d (name, value[, provider])", keys, len(want))
		}
		for k, v := range want {
			if string(m[k]) != v {
				t.Fatalf("body field %s = %s, want %s", k, m[k], v)
			}
		}
		if got := req.header.Get("Idempotency-Key"); got != "idem-1" {
			t.Fatalf("Idempotency-Key = %q", got)
		}
		if ct := req.header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("Content-Type = %q", ct)
		}
		if strings.Contains(r.stdout, value) || strings.Contains(r.stderr, value) {
			t.Fatal("the value was printed")
		}
		if !strings.Contains(r.stdout, "sk-p••••••••789") || !strings.Contains(r.stdout, secretID) {
			t.Fatalf("stdout does not show the created secret: %q", r.stdout)
		}
	}
}

func TestSecretsListTableAndJSON(t *testing.T) {
	f := newFakeBroker(t)
	f.on("GET /api/v1/user/secrets", 200, listJSON)
	f.on("GET /api/v1/user/secrets/presets", 200, presetsJSON)
	r := runCLI(t, f.env(), "", "secrets", "list")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	// The secrets, a blank line, then the presets with their configured mark.
	tables := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n\n")
	if len(tables) != 2 {
		t.Fatalf("want two tables (secrets, presets):\n%s", r.stdout)
	}
	plines := strings.Split(tables[1], "\n")
	if len(plines) != 3 || !strings.Contains(plines[0], "CONFIGURED") ||
		strings.Join(strings.Fields(plines[1]), " ") != "openai OPENAI_API_KEY yes" ||
		strings.Join(strings.Fields(plines[2]), " ") != "github GITHUB_TOKEN no" {
		t.Fatalf("presets table:\n%s", tables[1])
	}
	lines := strings.Split(tables[0], "\n")
	if len(lines) != 3 {
		t.Fatalf("table has %d lines, want 3:\n%s", len(lines), r.stdout)
	}
	for _, col := range []string{"ID", "NAME", "PROVIDER", "MASKED", "VERSION", "UPDATED"} {
		if !strings.Contains(lines[0], col) {
			t.Fatalf("header %q lacks %s", lines[0], col)
		}
	}
	for _, want := range []string{secretID, "OPENAI_API_KEY", "openai", "sk-p••••••••789", "3", "2026-02-03T04:05:06Z"} {
		if !strings.Contains(lines[1], want) {
			t.Fatalf("row %q lacks %q", lines[1], want)
		}
	}
	if fields := strings.Fields(lines[2]); len(fields) != 6 || fields[2] != "-" {
		t.Fatalf("row for a secret without provider: %q", lines[2])
	}

	r = runCLI(t, f.env(), "", "secrets", "list", "--json")
	if r.code != 0 || r.stdout != listJSON+"\n" {
		t.Fatalf("--json: exit %d, stdout %q", r.code, r.stdout)
	}
	r = runCLI(t, f.env(), "", "--json", "secrets", "list")
	if r.code != 0 || r.stdout != listJSON+"\n" {
		t.Fatalf("--json before the command: exit %d, stdout %q", r.code, r.stdout)
	}
}

func TestNameResolution(t *testing.T) {
	f := newFakeBroker(t)
	f.on("GET /api/v1/user/secrets", 200, listJSON)
	f.on("GET /api/v1/user/secrets/"+secretID, 200, secretJSON)
	f.on("PUT /api/v1/user/secrets/"+secretID, 200, secretJSON)
	f.on("DELETE /api/v1/user/secrets/"+secretID, 204, "")
	f.on("POST /api/v1/user/secrets/"+secretID+"/rollback", 200, secretJSON)
	f.on("GET /api/v1/user/secrets/"+secretID+"/versions", 200,
		`{"versions":[{"version":1,"created_at":"2026-01-02T03:04:05Z","masked_value":"••••","fingerprint":"hmac-1","current":false,"destroyed":false},{"version":2,"created_at":"2026-01-03T03:04:05Z","masked_value":"sk-••••9","fingerprint":"hmac-2","current":true,"destroyed":false}],"total":2}`)

	// By name: one list, then the call on the id.
	r := runCLI(t, f.env(), "", "secrets", "get", "OPENAI_API_KEY")
	if r.code != 0 {
		t.Fatalf("get by name: exit %d: %s", r.code, r.stderr)
	}
	reqs := f.requests()
	if len(reqs) != 2 || reqs[0].path != "/api/v1/user/secrets" || reqs[1].path != "/api/v1/user/secrets/"+secretID {
		t.Fatalf("get by name sent %+v", reqs)
	}

	// By id: no list.
	r = runCLI(t, f.env(), "", "secrets", "get", secretID, "--json")
	if r.code != 0 || r.stdout != secretJSON+"\n" {
		t.Fatalf("get by id: exit %d, stdout %q", r.code, r.stdout)
	}
	if n := len(f.requests()); n != 3 {
		t.Fatalf("get by id sent %d requests, want 1", n-2)
	}

	// Unknown name: exit 1, nothing but the list sent.
	r = runCLI(t, f.env(), "", "secrets", "rm", "NOPE")
	if r.code != 1 || !strings.Contains(oneErrorLine(t, r), `no secret named "NOPE"`) {
		t.Fatalf("unknown name: exit %d, stderr %q", r.code, r.stderr)
	}
	if last := f.requests()[len(f.requests())-1]; last.method != http.MethodGet {
		t.Fatalf("unknown name led to %s %s", last.method, last.path)
	}

	// Rotate sends exactly {"value"}.
	const value = "rotated-value-abcdefghijklmnop"
	r = runCLI(t, f.env(), value+"\n", "secrets", "rotate", "OPENAI_API_KEY")
	if r.code != 0 {
		t.Fatalf("rotate: exit %d: %s", r.code, r.stderr)
	}
	last := f.requests()[len(f.requests())-1]
	if m := bodyKeys(t, last.body); last.method != http.MethodPut || len(m) != 1 || string(m["value"]) != `"`+value+`"` {
		t.Fatalf("rotate sent %s %s", last.method, last.body)
	}
	if strings.Contains(r.stdout+r.stderr, value) {
		t.Fatal("rotate printed the value")
	}

	// --keep-newline keeps it.
	r = runCLI(t, f.env(), value+"\n", "secrets", "rotate", secretID, "--keep-newline")
	last = f.requests()[len(f.requests())-1]
	if r.code != 0 || string(bodyKeys(t, last.body)["value"]) != `"`+value+`\n"` {
		t.Fatalf("--keep-newline sent %s", last.body)
	}

	// Rollback.
	r = runCLI(t, f.env(), "", "secrets", "rollback", "OPENAI_API_KEY", "--version", "2", "--idempotency-key", "k2")
	last = f.requests()[len(f.requests())-1]
	if r.code != 0 || string(last.body) != `{"version":2}` || last.header.Get("Idempotency-Key") != "k2" {
		t.Fatalf("rollback: exit %d, sent %s %s", r.code, last.body, last.header)
	}

	// Versions table.
	r = runCLI(t, f.env(), "", "secrets", "versions", secretID)
	if r.code != 0 {
		t.Fatalf("versions: exit %d: %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "VERSION") || !strings.HasSuffix(lines[2], "*") || strings.HasSuffix(lines[1], "*") {
		t.Fatalf("versions table:\n%s", r.stdout)
	}

	// rm: 204, nothing on stdout.
	r = runCLI(t, f.env(), "", "secrets", "rm", secretID)
	last = f.requests()[len(f.requests())-1]
	if r.code != 0 || r.stdout != "" || last.method != http.MethodDelete {
		t.Fatalf("rm: exit %d, stdout %q, last %s", r.code, r.stdout, last.method)
	}
}

func TestPresets(t *testing.T) {
	f := newFakeBroker(t)
	presets := `{"presets":[{"provider":"openai","env_var_name":"OPENAI_API_KEY","configured":true},{"provider":"github","env_var_name":"GITHUB_TOKEN","configured":false}]}`
	f.on("GET /api/v1/user/secrets/presets", 200, presets)
	f.on("POST /api/v1/user/secrets/preset", 201, secretJSON)

	r := runCLI(t, f.env(), "", "presets")
	if r.code != 0 {
		t.Fatalf("presets: exit %d: %s", r.code, r.stderr)
	}
	want := "PROVIDER  ENV VAR         CONFIGURED\nopenai    OPENAI_API_KEY  yes\ngithub    GITHUB_TOKEN    no\n"
	if r.stdout != want {
		t.Fatalf("presets table:\n%q\nwant\n%q", r.stdout, want)
	}
	if r = runCLI(t, f.env(), "", "presets", "list", "--json"); r.stdout != presets+"\n" {
		t.Fatalf("presets --json: %q", r.stdout)
	}

	const value = "ghp_presetvalue_0123456789"
	r = runCLI(t, f.env(), value, "presets", "set", "openai")
	last := f.requests()[len(f.requests())-1]
	m := bodyKeys(t, last.body)
	if r.code != 0 || len(m) != 2 || string(m["provider"]) != `"openai"` || string(m["value"]) != `"`+value+`"` {
		t.Fatalf("presets set: exit %d, sent %s", r.code, last.body)
	}
}

func TestEnvTwinsAndFlags(t *testing.T) {
	f := newFakeBroker(t)
	f.on("GET /api/v1/user/secrets", 200, listJSON)
	f.on("GET /api/v1/user/secrets/presets", 200, presetsJSON)
	// The flag wins over the variable.
	env := map[string]string{"BROKER_URL": "http://127.0.0.1:1", "BROKER_API_KEY": "wrong-key-0000000000000000"}
	r := runCLI(t, env, "", "secrets", "list", "--url", f.srv.URL+"/", "--api-key", testKey)
	if r.code != 0 {
		t.Fatalf("flags over env: exit %d: %s", r.code, r.stderr)
	}
	// The variable is used when there is no flag.
	env = map[string]string{"BROKER_URL": f.srv.URL, "BROKER_API_KEY": "wrong-key-0000000000000000"}
	r = runCLI(t, env, "", "secrets", "list")
	if r.code != 1 || !strings.Contains(r.stderr, "authentication_error 401") {
		t.Fatalf("env key: exit %d, stderr %q", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, "wrong-key") {
		t.Fatal("the API key was printed")
	}
}

func TestErrorEnvelopeRendering(t *testing.T) {
	cases := []struct {
		name    string
		status  int
		header  map[string]string
		body    string
		want    string
		notWant string
	}{
		{
			name:   "validation with fields",
			status: 422,
			body:   `{"code":422,"type":"validation_error","detail":"invalid request","errors":[{"field":"name","message":"must match ^[A-Za-z_][A-Za-z0-9_]*$"},{"field":"value","message":"must not be empty"}]}`,
			want:   "brokerctl: invalid request: name: must match ^[A-Za-z_][A-Za-z0-9_]*$; value: must not be empty [validation_error 422]",
		},
		{
			name:   "validation with one field (not repeated)",
			status: 422,
			body:   `{"code":422,"type":"validation_error","detail":"name: is reserved","errors":[{"field":"name","message":"is reserved"}]}`,
			want:   "brokerctl: name: is reserved [validation_error 422]",
		},
		{
			name:   "conflict",
			status: 409,
			body:   `{"code":409,"type":"conflict","detail":"a secret named OPENAI_API_KEY exists"}`,
			want:   "brokerctl: a secret named OPENAI_API_KEY exists [conflict 409]",
		},
		{
			name:   "rate limited",
			status: 429,
			header: map[string]string{"Retry-After": "7"},
			body:   `{"code":429,"type":"rate_limited","detail":"too many requests"}`,
			want:   "brokerctl: too many requests (retry after 7s) [rate_limited 429]",
		},
		{
			name:    "multi-line detail",
			status:  503,
			body:    `{"code":503,"type":"unavailable","detail":"vault\nis sealed"}`,
			want:    "brokerctl: vault is sealed [unavailable 503]",
			notWant: "\n\n",
		},
		{
			name:    "not an envelope",
			status:  502,
			body:    "<html>upstream said sk-proj-LEAKED</html>",
			want:    "brokerctl: bad gateway [HTTP 502]",
			notWant: "LEAKED",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeBroker(t)
			f.routes["POST /api/v1/user/secrets"] = func(w http.ResponseWriter, _ []byte) {
				for k, v := range c.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(c.status)
				_, _ = io.WriteString(w, c.body)
			}
			r := runCLI(t, f.env(), "value-0123456789abcdef", "secrets", "set", "OPENAI_API_KEY")
			if r.code != 1 {
				t.Fatalf("exit %d, want 1; stderr %q", r.code, r.stderr)
			}
			if line := oneErrorLine(t, r); line != c.want {
				t.Fatalf("error line\n%q\nwant\n%q", line, c.want)
			}
			if c.notWant != "" && strings.Contains(r.stderr, c.notWant) {
				t.Fatalf("stderr contains %q", c.notWant)
			}
			if r.stdout != "" || strings.Contains(r.stderr, "value-0123456789abcdef") {
				t.Fatalf("stdout %q / stderr %q", r.stdout, r.stderr)
			}
		})
	}
}

func TestBrokerUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	r := runCLI(t, map[string]string{"BROKER_URL": url, "BROKER_API_KEY": testKey}, "", "secrets", "list")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1", r.code)
	}
	line := oneErrorLine(t, r)
	if !strings.Contains(line, "connection refused") || strings.Contains(line, testKey) {
		t.Fatalf("error line %q", line)
	}
}

func TestNoRedirects(t *testing.T) {
	var leaked bool
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked = r.Header.Get("Authorization") != "" || r.Header.Get("X-API-Key") != ""
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/steal", http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	r := runCLI(t, map[string]string{"BROKER_URL": srv.URL, "BROKER_API_KEY": testKey}, "", "secrets", "list")
	if r.code != 1 || leaked {
		t.Fatalf("redirect followed (leaked=%v), exit %d, stderr %q", leaked, r.code, r.stderr)
	}
}

func TestTimeoutHint(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer srv.Close()
	defer close(block)
	r := runCLI(t, map[string]string{"BROKER_URL": srv.URL, "BROKER_API_KEY": testKey}, "", "secrets", "list", "--timeout", "50ms")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1", r.code)
	}
	if line := oneErrorLine(t, r); line != "brokerctl: GET "+srv.URL+": timed out (see --timeout)" {
		t.Fatalf("error line %q", line)
	}
}
