package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/labstack/echo/v4"

	"github.com/acme/secretsbroker/handlers"
)

// spec is the committed OpenAPI document (the bytes GET /openapi.json serves),
// loaded and validated once, with a router over it.
var spec struct {
	once   sync.Once
	doc    *openapi3.T
	router routers.Router
	err    error

	mu   sync.Mutex
	seen map[string]map[int]int // "METHOD /path/{id}" -> status -> count
}

func loadSpec() (*openapi3.T, routers.Router, error) {
	spec.once.Do(func() {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(handlers.OpenAPISpec())
		if err != nil {
			spec.err = fmt.Errorf("load: %w", err)
			return
		}
		if err := doc.Validate(loader.Context); err != nil {
			spec.err = fmt.Errorf("validate: %w", err)
			return
		}
		r, err := legacy.NewRouter(doc)
		if err != nil {
			spec.err = fmt.Errorf("router: %w", err)
			return
		}
		spec.doc, spec.router = doc, r
		spec.seen = map[string]map[int]int{}
	})
	return spec.doc, spec.router, spec.err
}

func recordSeen(op string, status int) {
	spec.mu.Lock()
	defer spec.mu.Unlock()
	if spec.seen[op] == nil {
		spec.seen[op] = map[int]int{}
	}
	spec.seen[op][status]++
}

// validateAnswer validates one real answer of the broker against the
// document: the operation must exist, the status must be documented for it,
// and headers and body must match the documented schemas (formats included).
// Answers to paths the API does not have (404/405) must be the error envelope.
func validateAnswer(req *http.Request, r response) error { return checkSpec(req, r, true) }

// checkSpec is validateAnswer; record says whether to count the answer for
// the coverage check TestMain runs (checkOpenAPICoverage).
func checkSpec(req *http.Request, r response, record bool) error {
	doc, router, err := loadSpec()
	if err != nil {
		return err
	}
	ctx := context.Background()
	route, params, err := router.FindRoute(req)
	if err != nil {
		var re *routers.RouteError
		if !errors.As(err, &re) {
			return err
		}
		if r.Status != http.StatusNotFound && r.Status != http.StatusMethodNotAllowed {
			return fmt.Errorf("%s %s is not in the document (%v) but answered %d", req.Method, req.URL.Path, err, r.Status)
		}
		if record {
			recordSeen("unrouted", r.Status)
		}
		var v any
		if err := json.Unmarshal(r.Body, &v); err != nil {
			return fmt.Errorf("unrouted answer is not JSON: %w", err)
		}
		return doc.Components.Schemas["Error"].Value.VisitJSON(v, openapi3.MultiErrors())
	}
	opts := &openapi3filter.Options{
		IncludeResponseStatus: true,
		MultiError:            true,
		AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts},
		Status:                 r.Status,
		Header:                 r.Header,
		Options:                opts,
	}
	in.SetBodyBytes(r.Body)
	if err := openapi3filter.ValidateResponse(ctx, in); err != nil {
		return err
	}
	if record {
		recordSeen(route.Method+" "+route.Path, r.Status)
	}
	return nil
}

// echoRoutes lists the routes the handlers register, as "METHOD /path/{id}".
func echoRoutes(t *testing.T) []string {
	t.Helper()
	e, ok := handlers.New(handlers.Config{}, handlers.Deps{}).Handler().(*echo.Echo)
	if !ok {
		t.Fatal("handlers.Handler is not an *echo.Echo")
	}
	param := regexp.MustCompile(`:([a-z_]+)`)
	set := map[string]bool{}
	for _, r := range e.Routes() {
		if strings.Contains(r.Path, "*") || r.Path == "/api/v1" || !isHTTPMethod(r.Method) {
			continue // echo's group catch-alls
		}
		set[r.Method+" "+param.ReplaceAllString(r.Path, "{$1}")] = true
	}
	var out []string
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func isHTTPMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch:
		return true
	}
	return false
}

func specOperations(t *testing.T, doc *openapi3.T) []string {
	t.Helper()
	var out []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			out = append(out, method+" "+path)
		}
	}
	sort.Strings(out)
	return out
}

// TestOpenAPIDocument: the committed document is valid OpenAPI 3 and
// describes exactly the routes the handlers register, each with its security,
// its error answers as the envelope, Idempotency-Key on every POST under
// /api/v1 and Retry-After on every 429.
func TestOpenAPIDocument(t *testing.T) {
	doc, _, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	routes, ops := echoRoutes(t), specOperations(t, doc)
	if strings.Join(routes, "\n") != strings.Join(ops, "\n") {
		t.Fatalf("document and handlers disagree\nhandlers:\n%s\ndocument:\n%s", strings.Join(routes, "\n"), strings.Join(ops, "\n"))
	}
	if len(routes) < 19 {
		t.Fatalf("only %d routes found", len(routes))
	}
	for _, name := range []string{"apiKey", "bearer"} {
		if doc.Components.SecuritySchemes[name] == nil {
			t.Errorf("security scheme %s missing", name)
		}
	}
	if s := doc.Components.SecuritySchemes["apiKey"].Value; s.In != "header" || s.Name != "X-API-Key" {
		t.Errorf("apiKey scheme: %+v", s)
	}
	if s := doc.Components.SecuritySchemes["bearer"].Value; s.Type != "http" || s.Scheme != "bearer" {
		t.Errorf("bearer scheme: %+v", s)
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			api := strings.HasPrefix(path, "/api/v1/")
			if api && op.Security != nil {
				t.Errorf("%s: overrides the API's security", where)
			}
			if !api && (op.Security == nil || len(*op.Security) != 0) {
				t.Errorf("%s: should need no API key", where)
			}
			if api {
				for _, code := range []int{401, 429, 500, 503} {
					if op.Responses.Status(code) == nil {
						t.Errorf("%s: no %d answer", where, code)
					}
				}
			}
			if api && strings.Contains(path, "{id}") && op.Responses.Status(404) == nil {
				t.Errorf("%s: takes an id but documents no 404", where)
			}
			if api && method == http.MethodPost {
				if op.Parameters.GetByInAndName("header", handlers.HeaderIdempotencyKey) == nil {
					t.Errorf("%s: no Idempotency-Key header parameter", where)
				}
				if op.Responses.Status(413) == nil || op.Responses.Status(422) == nil {
					t.Errorf("%s: POST without 413/422", where)
				}
			}
			for code, rr := range op.Responses.Map() {
				n, _ := strconv.Atoi(code)
				if n < 400 || path == "/readyz" {
					continue
				}
				ct := rr.Value.Content.Get("application/json")
				if ct == nil || !strings.Contains(fmt.Sprint(schemaRefs(ct.Schema)), "#/components/schemas/Error") {
					t.Errorf("%s %s: not the error envelope", where, code)
				}
				if n == 429 {
					h := rr.Value.Headers["Retry-After"]
					if h == nil || !h.Value.Required {
						t.Errorf("%s 429: Retry-After not a required header", where)
					}
				}
			}
		}
	}
	// The Secret schema's exact fields (the Dreadnode-compatible ones plus
	// egress_hosts), provider nullable.
	sec := doc.Components.Schemas["Secret"].Value
	want := []string{"created_at", "egress_hosts", "fingerprint", "id", "masked_value", "name", "provider", "updated_at", "version"}
	got := append([]string(nil), sec.Required...)
	sort.Strings(got)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("Secret required = %v, want %v", got, want)
	}
	if !sec.Properties["provider"].Value.Nullable {
		t.Error("Secret.provider is not nullable")
	}
	for _, f := range []string{"created_at", "updated_at"} {
		if sec.Properties[f].Value.Format != "date-time" {
			t.Errorf("Secret.%s is not date-time", f)
		}
	}
}

func schemaRefs(s *openapi3.SchemaRef) []string {
	if s == nil {
		return nil
	}
	out := []string{s.Ref}
	if s.Value != nil {
		for _, x := range s.Value.AllOf {
			out = append(out, schemaRefs(x)...)
		}
	}
	return out
}

// TestOpenAPIValidatorRejects: the validation every API test relies on can
// fail: a wrong type, a missing field, an undocumented status, a bad
// timestamp and a 429 without Retry-After are all refused.
func TestOpenAPIValidatorRejects(t *testing.T) {
	good := `{"id":"7d4f5a2e-1c3b-4d5e-8f90-123456789abc","name":"OPENAI_API_KEY","provider":null,"masked_value":"sk-p••••9","fingerprint":"hmac:0123456789abcdef","version":1,"created_at":"2026-01-02T03:04:05Z","updated_at":"2026-01-02T03:04:05.123Z","egress_hosts":["api.openai.com"]}`
	hdr := func(kv ...string) http.Header {
		h := http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"no-store"}}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	req := func(method, path string) *http.Request {
		r, _ := http.NewRequest(method, "http://127.0.0.1:1"+path, bytes.NewReader(nil))
		return r
	}
	id := "/api/v1/user/secrets/7d4f5a2e-1c3b-4d5e-8f90-123456789abc"
	if err := checkSpec(req("GET", id), response{Status: 200, Header: hdr(), Body: []byte(good)}, false); err != nil {
		t.Fatalf("a good answer was refused: %v", err)
	}
	bad := map[string]response{
		"provider a number":  {200, hdr(), []byte(strings.Replace(good, `"provider":null`, `"provider":5`, 1))},
		"no masked_value":    {200, hdr(), []byte(strings.Replace(good, `"masked_value":"sk-p••••9",`, ``, 1))},
		"extra field":        {200, hdr(), []byte(strings.Replace(good, `"version":1`, `"version":1,"value":"x"`, 1))},
		"bad timestamp":      {200, hdr(), []byte(strings.Replace(good, `2026-01-02T03:04:05Z`, `yesterday`, 1))},
		"undocumented 418":   {418, hdr(), []byte(`{"code":418,"type":"conflict","detail":"x"}`)},
		"429 no Retry-After": {429, hdr(), []byte(`{"code":429,"type":"rate_limited","detail":"x"}`)},
		"404 wrong type":     {404, hdr(), []byte(`{"code":404,"type":"conflict","detail":"x"}`)},
		"no Cache-Control":   {200, http.Header{"Content-Type": {"application/json"}}, []byte(good)},
	}
	for name, r := range bad {
		if err := checkSpec(req("GET", id), r, false); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestOpenAPIServed: GET /openapi.json serves the committed document, without
// an API key.
func TestOpenAPIServed(t *testing.T) {
	e := newAPIEnv(t)
	b := e.broker(false, nil)
	c := e.client(b, "")
	r := c.do("GET", "/openapi.json", nil)
	wantStatus(t, r, 200)
	if !bytes.Equal(r.Body, handlers.OpenAPISpec()) {
		t.Fatal("served document differs from handlers/openapi.json")
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}
	doc, err := openapi3.NewLoader().LoadFromData(r.Body)
	if err != nil || doc.OpenAPI[:2] != "3." {
		t.Fatalf("served document: %v", err)
	}
}

// openAPICoverage is checked by TestMain after every test of the package ran
// (in any order, -shuffle included), when none was filtered out: every
// operation of the document was exercised with a real answer that
// validated, with its success status, and every documented error status was
// seen and validated at least once. It returns the problems found and a
// summary of what was validated.
func openAPICoverage() (problems []string, summary string, err error) {
	doc, _, err := loadSpec()
	if err != nil {
		return nil, "", err
	}
	spec.mu.Lock()
	defer spec.mu.Unlock()
	statuses := map[int]bool{}
	for _, m := range spec.seen {
		for s := range m {
			statuses[s] = true
		}
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			key := method + " " + path
			seen := spec.seen[key]
			if len(seen) == 0 {
				problems = append(problems, key+": no answer was validated")
				continue
			}
			for code := range op.Responses.Map() {
				n, _ := strconv.Atoi(code)
				if n >= 200 && n < 300 && seen[n] == 0 {
					problems = append(problems, fmt.Sprintf("%s: success status %d never seen (seen %v)", key, n, seen))
				}
			}
		}
	}
	for _, s := range []int{401, 404, 409, 413, 422, 429, 500, 503} {
		if !statuses[s] {
			problems = append(problems, fmt.Sprintf("error status %d never validated", s))
		}
	}
	var lines []string
	for k, m := range spec.seen {
		lines = append(lines, fmt.Sprintf("%s %v", k, m))
	}
	sort.Strings(lines)
	sort.Strings(problems)
	return problems, strings.Join(lines, "\n"), nil
}

// checkOpenAPICoverage runs openAPICoverage when the whole package ran and
// passed, and reports the exit code: 1 when the document is not covered.
func checkOpenAPICoverage(code int, w io.Writer) int {
	for _, name := range []string{"test.run", "test.skip"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			return code // coverage needs the whole package
		}
	}
	if code != 0 {
		return code
	}
	spec.mu.Lock()
	none := len(spec.seen) == 0
	spec.mu.Unlock()
	if none {
		fmt.Fprintln(w, "openapi coverage: not checked, no API answer was validated (integration tests skipped)")
		return code
	}
	problems, summary, err := openAPICoverage()
	if err != nil {
		fmt.Fprintln(w, "openapi coverage:", err)
		return 1
	}
	if testing.Verbose() {
		fmt.Fprintf(w, "openapi coverage, validated answers:\n%s\n", summary)
	}
	if len(problems) > 0 {
		fmt.Fprintf(w, "FAIL: openapi coverage:\n  %s\n", strings.Join(problems, "\n  "))
		return 1
	}
	return code
}
