package main

// Helpers shared by the API integration tests (api_*_test.go): a client whose
// every answer is validated against the committed OpenAPI document and checked
// for the security headers, a per-test environment on the package's shared
// Vault and Redis, direct Vault reads with the root token, and the leak check.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	sdk "github.com/acme/secretsbroker/client"
	"github.com/acme/secretsbroker/internal/testenv"
	"github.com/acme/secretsbroker/vaultx"
)

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// apiClient is a JSON client for the broker. Every answer goes through
// checkAnswer: validated against the OpenAPI document, Cache-Control: no-store,
// no CORS headers unless the broker was configured with CORS. Safe for
// concurrent use with try.
type apiClient struct {
	t      testing.TB
	base   string
	key    string
	bearer bool // send the key as Authorization: Bearer instead of X-API-Key
	cors   bool // the broker has CORS configured
	hc     *http.Client
	bodies *testenv.SyncBuffer // every answer body, for the leak check
}

// withKey returns a copy of c authenticating with key (same body collector).
func (c *apiClient) withKey(key string) *apiClient {
	d := *c
	d.key = key
	return &d
}

// asBearer returns a copy of c that sends its key as a bearer token.
func (c *apiClient) asBearer() *apiClient {
	d := *c
	d.bearer = true
	return &d
}

// try sends one request and returns the answer; any transport failure or
// contract violation (OpenAPI, headers) is returned as an error.
func (c *apiClient) try(method, path string, body any, hdr ...string) (response, error) {
	r, raw, err := exchange(c.base, c.key, c.bearer, c.hc, method, path, body, hdr)
	if err != nil {
		return r, err
	}
	fmt.Fprintf(c.bodies, "%s\n", r.Body)
	// The validator reads the request (for its route and body).
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(raw))
	if err != nil {
		return r, err
	}
	if err := checkAnswer(req, r, c.cors); err != nil {
		return r, fmt.Errorf("%s %s -> %d %s: %w", method, path, r.Status, r.Body, err)
	}
	return r, nil
}

// exchange is the one way these tests talk HTTP to a broker: one request
// through the SDK's raw call (client.Do: never retried, answers of any
// status), with key (as X-API-Key, or a bearer token) unless it is empty,
// body as is (string, []byte) or as JSON, and hdr as name, value pairs
// applied last. It returns the answer and the request body it sent.
func exchange(base, key string, bearer bool, hc *http.Client, method, path string, body any, hdr []string) (response, []byte, error) {
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return response{}, nil, err
		}
		raw = j
	}
	opts := []sdk.Option{sdk.WithHTTPClient(hc)}
	if bearer {
		opts = append(opts, sdk.WithBearer())
	}
	api, err := sdk.New(base, key, opts...)
	if err != nil {
		return response{}, raw, err
	}
	h := http.Header{}
	for i := 0; i+1 < len(hdr); i += 2 {
		h.Set(hdr[i], hdr[i+1])
	}
	res, err := api.Do(context.Background(), method, path, raw, h)
	if err != nil {
		return response{}, raw, fmt.Errorf("%s %s: %w", method, path, err)
	}
	return response{Status: res.Status, Header: res.Header, Body: res.Body}, raw, nil
}

// do is try for the test goroutine: transport errors are fatal, contract
// violations are reported and the test goes on.
func (c *apiClient) do(method, path string, body any, hdr ...string) response {
	c.t.Helper()
	r, err := c.try(method, path, body, hdr...)
	if r.Status == 0 {
		c.t.Fatal(err)
	}
	if err != nil {
		c.t.Error(err)
	}
	return r
}

// checkAnswer enforces what every answer of the broker must satisfy.
func checkAnswer(req *http.Request, r response, cors bool) error {
	var errs []string
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		errs = append(errs, fmt.Sprintf("Cache-Control %q, want no-store", got))
	}
	if !cors {
		for k := range r.Header {
			if strings.HasPrefix(strings.ToLower(k), "access-control-") {
				errs = append(errs, fmt.Sprintf("CORS header %s without CORS configured", k))
			}
		}
	}
	if err := validateAnswer(req, r); err != nil {
		errs = append(errs, "OpenAPI: "+err.Error())
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// apiEnv is one test's world: the package's shared Vault (set up by the real
// `brokerd setup`) and Redis, brokers, users and their clients, the values the
// test planted, and a leak check that runs when the test ends.
type apiEnv struct {
	t     *testing.T
	vault *testenv.Vault
	redis *testenv.Redis
	cfg   configured
	root  *vaultapi.Client

	mu      sync.Mutex
	brokers []*brokerProc
	clients []*apiClient
	redises []*testenv.Redis // private Redis servers, dumped before they stop
}

func newAPIEnv(t *testing.T) *apiEnv {
	t.Helper()
	v := shared.Vault(t)
	r := shared.Redis(t)
	root := rootVault(t, v)
	e := &apiEnv{t: t, vault: v, redis: r, cfg: setupVault(t, v), root: root}
	// Registered first, so it runs last: after every broker has stopped.
	t.Cleanup(func() { e.checkLeaks(r) })
	return e
}

// rootVault is Vault's own API client with the root token.
func rootVault(t testing.TB, v *testenv.Vault) *vaultapi.Client {
	t.Helper()
	vc, err := vaultapi.NewClient(&vaultapi.Config{Address: v.Addr, HttpClient: &http.Client{Timeout: 30 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	vc.SetToken(v.Token)
	return vc
}

// broker starts a brokerd on the shared Vault; with redis it uses the
// package's shared Redis.
func (e *apiEnv) broker(redis bool, extra map[string]string) *brokerProc {
	e.t.Helper()
	env := map[string]string{}
	if redis {
		env["REDIS_URL"] = e.redis.URL
	}
	for k, v := range extra {
		env[k] = v
	}
	b := startBroker(e.t, e.cfg, env)
	e.mu.Lock()
	e.brokers = append(e.brokers, b)
	e.mu.Unlock()
	return b
}

// brokerOn starts a brokerd using a private Redis r (started by the caller),
// whose keys are dumped for the leak check before r stops.
func (e *apiEnv) brokerOn(r *testenv.Redis, extra map[string]string) *brokerProc {
	e.t.Helper()
	e.mu.Lock()
	known := false
	for _, x := range e.redises {
		known = known || x == r
	}
	if !known {
		e.redises = append(e.redises, r)
	}
	e.mu.Unlock()
	if !known {
		e.t.Cleanup(func() { e.checkRedisLeaks(r) })
	}
	env := map[string]string{"REDIS_URL": r.URL}
	for k, v := range extra {
		env[k] = v
	}
	b := startBroker(e.t, e.cfg, env)
	e.mu.Lock()
	e.brokers = append(e.brokers, b)
	e.mu.Unlock()
	return b
}

// user returns a fresh user id and an API key for it.
func (e *apiEnv) user(prefix string) (string, string) {
	e.t.Helper()
	id := prefix + "-" + randHex(6)
	key := newAPIKey(e.t, e.vault, id)
	planted.add("api key", key)
	return id, key
}

// client returns a validated client for broker b with key.
func (e *apiEnv) client(b *brokerProc, key string) *apiClient {
	c := &apiClient{t: e.t, base: b.URL, key: key, hc: &http.Client{Timeout: 60 * time.Second}, bodies: &testenv.SyncBuffer{}}
	e.mu.Lock()
	e.clients = append(e.clients, c)
	e.mu.Unlock()
	return c
}

// value returns a distinctive random plaintext and registers it for the leak check.
func value(prefix string) string {
	v := prefix + "-" + randHex(16)
	planted.add("secret value", v)
	return v
}

// --- JSON shape checks ---

// decodeObj decodes an answer body into a map.
func decodeObj(t testing.TB, r response) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("answer %d is not a JSON object: %v: %s", r.Status, err, r.Body)
	}
	return m
}

func wantStatus(t testing.TB, r response, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
}

// checkKeys requires exactly these keys in m.
func checkKeys(t testing.TB, what string, m map[string]any, keys ...string) {
	t.Helper()
	var got []string
	for k := range m {
		got = append(got, k)
	}
	want := append([]string(nil), keys...)
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("%s keys = %v, want %v", what, got, want)
	}
}

func str(t testing.TB, m map[string]any, k string) string {
	t.Helper()
	s, ok := m[k].(string)
	if !ok {
		t.Errorf("%q = %#v, want a JSON string", k, m[k])
	}
	return s
}

func num(t testing.TB, m map[string]any, k string) int {
	t.Helper()
	f, ok := m[k].(float64)
	if !ok || f != float64(int(f)) {
		t.Errorf("%q = %#v, want a JSON integer", k, m[k])
	}
	return int(f)
}

func boolean(t testing.TB, m map[string]any, k string) bool {
	t.Helper()
	b, ok := m[k].(bool)
	if !ok {
		t.Errorf("%q = %#v, want a JSON boolean", k, m[k])
	}
	return b
}

func rfc3339(t testing.TB, m map[string]any, k string) time.Time {
	t.Helper()
	s := str(t, m, k)
	ts, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Errorf("%q = %q is not RFC 3339: %v", k, s, err)
	}
	return ts
}

func obj(t testing.TB, m map[string]any, k string) map[string]any {
	t.Helper()
	o, ok := m[k].(map[string]any)
	if !ok {
		t.Fatalf("%q = %#v, want a JSON object", k, m[k])
	}
	return o
}

func arr(t testing.TB, m map[string]any, k string) []any {
	t.Helper()
	a, ok := m[k].([]any)
	if !ok {
		t.Fatalf("%q = %#v, want a JSON array", k, m[k])
	}
	return a
}

// checkSecret checks a Secret object's exact keys and JSON types and returns it.
func checkSecret(t testing.TB, m map[string]any) map[string]any {
	t.Helper()
	checkKeys(t, "secret", m, "id", "name", "provider", "masked_value", "fingerprint", "version", "created_at", "updated_at", "egress_hosts")
	arr(t, m, "egress_hosts")
	str(t, m, "id")
	str(t, m, "name")
	if p, ok := m["provider"]; !ok || (p != nil && fmt.Sprintf("%T", p) != "string") {
		t.Errorf("provider = %#v, want a string or null", p)
	}
	str(t, m, "masked_value")
	if fp := str(t, m, "fingerprint"); !strings.HasPrefix(fp, "hmac:") {
		t.Errorf("fingerprint %q, want hmac:...", fp)
	}
	if v := num(t, m, "version"); v < 1 {
		t.Errorf("version %d, want >= 1", v)
	}
	c, u := rfc3339(t, m, "created_at"), rfc3339(t, m, "updated_at")
	if u.Before(c) {
		t.Errorf("updated_at %s before created_at %s", u, c)
	}
	return m
}

// secretOf decodes and checks a Secret answer.
func secretOf(t testing.TB, r response) map[string]any {
	t.Helper()
	return checkSecret(t, decodeObj(t, r))
}

// checkEnvelope checks the error envelope: exact keys, status and type, and
// (for validation errors) that fields names the offending fields.
func checkEnvelope(t testing.TB, r response, status int, typ string, fields ...string) map[string]any {
	t.Helper()
	if r.Status != status {
		t.Errorf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	m := decodeObj(t, r)
	if _, has := m["errors"]; has {
		checkKeys(t, "envelope", m, "code", "type", "detail", "errors")
	} else {
		checkKeys(t, "envelope", m, "code", "type", "detail")
	}
	if c := num(t, m, "code"); c != status {
		t.Errorf("envelope code %d, want %d", c, status)
	}
	if ty := str(t, m, "type"); ty != typ {
		t.Errorf("envelope type %q, want %q (%s)", ty, typ, r.Body)
	}
	if d := str(t, m, "detail"); d == "" {
		t.Errorf("envelope detail is empty")
	}
	var got []string
	if es, ok := m["errors"].([]any); ok {
		for _, x := range es {
			fe, _ := x.(map[string]any)
			checkKeys(t, "errors[]", fe, "field", "message")
			if str(t, fe, "message") == "" {
				t.Errorf("errors[] message empty")
			}
			got = append(got, str(t, fe, "field"))
		}
	}
	if len(fields) > 0 && strings.Join(got, ",") != strings.Join(fields, ",") {
		t.Errorf("errors[].field = %v, want %v (%s)", got, fields, r.Body)
	}
	return m
}

// --- Vault, read directly ---

// kvTree returns every entry under users/<user>/ of the KV mount: its path,
// current version and custom metadata, and the data of every live version,
// as one canonical string. It changes whenever anything is written.
func kvTree(t testing.TB, vc *vaultapi.Client, user string) string {
	t.Helper()
	var out []string
	var walk func(p string)
	walk = func(p string) {
		s, err := vc.Logical().List(vaultx.DefaultKVMount + "/metadata/" + p)
		if err != nil {
			t.Fatalf("list %s: %v", p, err)
		}
		if s == nil {
			return
		}
		keys, _ := s.Data["keys"].([]any)
		for _, k := range keys {
			name := fmt.Sprint(k)
			if strings.HasSuffix(name, "/") {
				walk(p + name)
				continue
			}
			out = append(out, kvEntry(t, vc, p+name))
		}
	}
	walk("users/" + user + "/")
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// kvEntry dumps one KV v2 entry (metadata and every readable version).
func kvEntry(t testing.TB, vc *vaultapi.Client, p string) string {
	t.Helper()
	m, err := vc.Logical().Read(vaultx.DefaultKVMount + "/metadata/" + p)
	if err != nil || m == nil {
		t.Fatalf("read metadata %s: %v", p, err)
	}
	md, _ := json.Marshal(map[string]any{"current": m.Data["current_version"], "custom": m.Data["custom_metadata"], "versions": m.Data["versions"]})
	parts := []string{p, string(md)}
	versions, _ := m.Data["versions"].(map[string]any)
	var vs []string
	for v := range versions {
		vs = append(vs, v)
	}
	sort.Strings(vs)
	for _, v := range vs {
		d, err := vc.Logical().ReadWithData(vaultx.DefaultKVMount+"/data/"+p, map[string][]string{"version": {v}})
		if err != nil {
			t.Fatalf("read data %s v%s: %v", p, v, err)
		}
		if d != nil {
			b, _ := json.Marshal(d.Data["data"])
			parts = append(parts, "v"+v+"="+string(b))
		}
	}
	return strings.Join(parts, " ")
}

// --- leak check ---

// registry is every value the tests planted that must never show up where it
// does not belong: secret values nowhere but in Vault (as ciphertext) and in
// the sandboxes; API keys and bootstrap tokens not in logs or Redis.
type registry struct {
	mu     sync.Mutex
	values map[string]string // value -> kind
}

var planted = &registry{values: map[string]string{}}

func (r *registry) add(kind, v string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.values[v] = kind
}

func (r *registry) snapshot() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]string, len(r.values))
	for k, v := range r.values {
		out[k] = v
	}
	return out
}

// findLeaks reports every planted value (of the given kinds; all when none)
// that occurs in text, verbatim or base64-encoded.
func findLeaks(text string, kinds ...string) []string {
	var out []string
	for v, kind := range planted.snapshot() {
		if len(kinds) > 0 && !contains(kinds, kind) {
			continue
		}
		for _, form := range testenv.Encodings(v) {
			if strings.Contains(text, form) {
				out = append(out, fmt.Sprintf("%s %.12s...", kind, v))
				break
			}
		}
	}
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// checkLeaks runs when the test ends: no planted value in any broker's logs,
// in any answer body (secret values only: bodies legitimately carry bootstrap
// tokens), or anywhere in the shared Redis.
func (e *apiEnv) checkLeaks(r *testenv.Redis) {
	t := e.t
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, b := range e.brokers {
		if l := findLeaks(b.Logs.String()); len(l) > 0 {
			t.Errorf("LEAK: broker %d logs contain %v", i, l)
		}
	}
	for i, c := range e.clients {
		if l := findLeaks(c.bodies.String(), "secret value", "api key"); len(l) > 0 {
			t.Errorf("LEAK: answer bodies of client %d contain %v", i, l)
		}
	}
	e.checkRedisLeaksLocked(r)
}

func (e *apiEnv) checkRedisLeaks(r *testenv.Redis) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.checkRedisLeaksLocked(r)
}

func (e *apiEnv) checkRedisLeaksLocked(r *testenv.Redis) {
	dump, n, err := testenv.DumpRedis(r.Addr)
	if err != nil {
		e.t.Errorf("leak check: dump redis: %v", err)
		return
	}
	if l := findLeaks(dump); len(l) > 0 {
		e.t.Errorf("LEAK: redis (%d keys) contains %v", n, l)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func bg() context.Context { return context.Background() }
