package handlers

import (
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/acme/secretsbroker/broker"
)

// routeCase is one route of routes.go with a request that reaches its handler.
type routeCase struct {
	method, template string
	body             string
	status           int
	call             string // the service method the handler calls ("" for none)
}

var apiRoutes = []routeCase{
	{"GET", "/api/v1/user/secrets", "", 200, "ListSecrets"},
	{"POST", "/api/v1/user/secrets", `{"name":"A","value":"v"}`, 201, "CreateSecret"},
	{"GET", "/api/v1/user/secrets/presets", "", 200, "Presets"},
	{"POST", "/api/v1/user/secrets/preset", `{"provider":"openai","value":"v"}`, 201, "CreateFromPreset"},
	{"GET", "/api/v1/user/secrets/:id", "", 200, "GetSecret"},
	{"PUT", "/api/v1/user/secrets/:id", `{"value":"v2"}`, 200, "UpdateSecret"},
	{"DELETE", "/api/v1/user/secrets/:id", "", 204, "DeleteSecret"},
	{"GET", "/api/v1/user/secrets/:id/versions", "", 200, "Versions"},
	{"POST", "/api/v1/user/secrets/:id/rollback", `{"version":1}`, 200, "Rollback"},
	{"POST", "/api/v1/runtimes", `{"project_id":"p","name":"n","secret_ids":[]}`, 201, "CreateRuntime"},
	{"GET", "/api/v1/runtimes", "", 200, "ListRuntimes"},
	{"GET", "/api/v1/runtimes/:id", "", 200, "GetRuntime"},
	{"POST", "/api/v1/runtimes/:id/restart", "", 200, "RestartRuntime"},
	{"DELETE", "/api/v1/runtimes/:id", "", 204, "DeleteRuntime"},
	{"POST", "/api/v1/evaluations", `{"project_id":"p","items":[{"name":"i"}]}`, 201, "CreateEvaluation"},
	{"GET", "/api/v1/evaluations/:id", "", 200, "GetEvaluation"},
}

var publicRoutes = []routeCase{
	{"GET", "/healthz", "", 200, ""},
	{"GET", "/readyz", "", 200, ""},
	{"GET", "/openapi.json", "", 200, ""},
}

// TestEveryRouteAnswers sends one request to every route of routes.go and
// checks that it reaches the intended service method with the caller's user
// and the path id. The table must name every registered route, so a route
// added without a test fails here.
func TestEveryRouteAnswers(t *testing.T) {
	h := newHarness(t, Config{}, func(d *Deps) { d.OpenAPI = []byte(`{"openapi":"3.0.3"}`) })
	var want []string
	for _, rc := range append(slices.Clone(apiRoutes), publicRoutes...) {
		want = append(want, rc.method+" "+rc.template)
	}
	var got []string
	for _, r := range h.srv.e.Routes() {
		switch r.Method {
		case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch:
			got = append(got, r.Method+" "+r.Path)
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("registered routes differ from the test's table:\n got %v\nwant %v", got, want)
	}

	for _, rc := range publicRoutes {
		rec := h.do(t, rc.method, rc.template, "", "X-API-Key", "")
		if rec.Code != rc.status {
			t.Errorf("%s %s without a key: %d, want %d (%s)", rc.method, rc.template, rec.Code, rc.status, rec.Body)
		}
	}
	for _, rc := range apiRoutes {
		path := strings.ReplaceAll(rc.template, ":id", testID)
		n := len(h.svc.Calls())
		rec := h.do(t, rc.method, path, rc.body)
		if rec.Code != rc.status {
			t.Errorf("%s %s: %d, want %d (%s)", rc.method, path, rec.Code, rc.status, rec.Body)
			continue
		}
		cs := h.svc.Calls()
		if len(cs) != n+1 {
			t.Errorf("%s %s: %d service calls, want 1", rc.method, path, len(cs)-n)
			continue
		}
		c := cs[n]
		if c.Method != rc.call || c.UserID != testUser {
			t.Errorf("%s %s called %s as %q, want %s as %q", rc.method, path, c.Method, c.UserID, rc.call, testUser)
		}
		if strings.Contains(rc.template, ":id") && c.ID != testID {
			t.Errorf("%s %s: id %q reached the service, want %q", rc.method, path, c.ID, testID)
		}
		// Every API route needs a key.
		if rec := h.do(t, rc.method, path, rc.body, "X-API-Key", ""); rec.Code != http.StatusUnauthorized {
			t.Errorf("%s %s without a key: %d, want 401", rc.method, path, rec.Code)
		}
	}
	if n := len(h.svc.Calls()); n != len(apiRoutes) {
		t.Errorf("unauthenticated requests reached the service: %d calls for %d routes", n, len(apiRoutes))
	}
}

func TestUnknownRouteIs404Envelope(t *testing.T) {
	h := newHarness(t, Config{})
	for _, path := range []string{"/nope", "/api/v2/user/secrets", "/api/v1/nope", "/api/v1/user/secrets/" + testID + "/nope"} {
		rec := h.do(t, "GET", path, "")
		env := wantEnvelope(t, rec, http.StatusNotFound, "not_found")
		if env.Detail != "no such route" {
			t.Errorf("GET %s: detail %q", path, env.Detail)
		}
	}
	if n := len(h.svc.Calls()); n != 0 {
		t.Fatalf("unknown routes reached the service %d times", n)
	}
	// Under /api/v1 an unknown route is behind authentication: it does not
	// tell a caller without a key which routes exist.
	rec := h.do(t, "GET", "/api/v1/nope", "", "X-API-Key", "")
	wantEnvelope(t, rec, http.StatusUnauthorized, "authentication_error")
}

// TestWrongMethodEnvelope: a wrong method on a route answers 405 with Allow
// naming the route's methods, on public routes and under /api/v1 alike (where
// echo's group catch-all alone would answer 404); OPTIONS on such a path is
// 204 with Allow; a path no route has is 404. All are the error envelope and
// none reaches the service.
func TestWrongMethodEnvelope(t *testing.T) {
	h := newHarness(t, Config{})
	rec := h.do(t, "POST", "/healthz", "")
	env := wantEnvelope(t, rec, http.StatusMethodNotAllowed, "method_not_allowed")
	if env.Detail != "method not allowed on this route" || !strings.Contains(rec.Header().Get("Allow"), "GET") {
		t.Errorf("POST /healthz: %+v, Allow %q", env, rec.Header().Get("Allow"))
	}
	for _, tc := range []struct{ method, path, allow string }{
		{"DELETE", "/api/v1/user/secrets", "GET, POST, OPTIONS"},
		{"PATCH", "/api/v1/user/secrets/" + testID, "GET, PUT, DELETE, OPTIONS"},
		{"PUT", "/api/v1/runtimes/" + testID, "GET, DELETE, OPTIONS"},
		{"DELETE", "/api/v1/evaluations/" + testID, "GET, OPTIONS"},
		{"GET", "/api/v1/runtimes/" + testID + "/restart", "POST, OPTIONS"},
	} {
		rec := h.do(t, tc.method, tc.path, "")
		wantEnvelope(t, rec, http.StatusMethodNotAllowed, "method_not_allowed")
		if got := rec.Header().Get("Allow"); got != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, got, tc.allow)
		}
	}
	if rec := h.do(t, "OPTIONS", "/api/v1/user/secrets", ""); rec.Code != http.StatusNoContent || rec.Header().Get("Allow") != "GET, POST, OPTIONS" {
		t.Errorf("OPTIONS /api/v1/user/secrets: %d, Allow %q", rec.Code, rec.Header().Get("Allow"))
	}
	for _, path := range []string{"/api/v1/nope", "/api/v1/user/secrets/" + testID + "/nope", "/api/v1"} {
		wantEnvelope(t, h.do(t, "GET", path, ""), http.StatusNotFound, "not_found")
	}
	if n := len(h.svc.Calls()); n != 0 {
		t.Fatalf("wrong methods reached the service %d times", n)
	}
}

// TestHandlersPassInputThrough checks what each binding hands the service.
func TestHandlersPassInputThrough(t *testing.T) {
	h := newHarness(t, Config{})
	h.do(t, "POST", "/api/v1/user/secrets", `{"name":"OPENAI_API_KEY","value":"sk-1","provider":"openai"}`)
	in := h.svc.last(t).Args.(broker.CreateSecretInput)
	if in.Name != "OPENAI_API_KEY" || in.Value != "sk-1" || in.Provider == nil || *in.Provider != "openai" {
		t.Fatalf("create input %+v", in)
	}
	h.do(t, "POST", "/api/v1/user/secrets", `{"name":"A","value":"v","provider":null}`)
	if in := h.svc.last(t).Args.(broker.CreateSecretInput); in.Provider != nil {
		t.Fatalf("null provider reached the service as %q", *in.Provider)
	}
	h.do(t, "PUT", "/api/v1/user/secrets/"+testID, `{"value":"v2"}`)
	if in := h.svc.last(t).Args.(broker.UpdateSecretInput); in.Value == nil || *in.Value != "v2" || in.EgressHosts != nil {
		t.Fatalf("update input %+v", in)
	}
	h.do(t, "PUT", "/api/v1/user/secrets/"+testID, `{"egress_hosts":["api.openai.com"]}`)
	if in := h.svc.last(t).Args.(broker.UpdateSecretInput); in.Value != nil || in.EgressHosts == nil || !slices.Equal(*in.EgressHosts, []string{"api.openai.com"}) {
		t.Fatalf("update hosts input %+v", in)
	}
	h.do(t, "PUT", "/api/v1/user/secrets/"+testID, `{"egress_hosts":[]}`)
	if in := h.svc.last(t).Args.(broker.UpdateSecretInput); in.EgressHosts == nil || len(*in.EgressHosts) != 0 {
		t.Fatalf("clearing hosts reached the service as %+v", in)
	}
	h.do(t, "POST", "/api/v1/user/secrets", `{"name":"A","value":"v","egress_hosts":["*.example.com"]}`)
	if in := h.svc.last(t).Args.(broker.CreateSecretInput); !slices.Equal(in.EgressHosts, []string{"*.example.com"}) {
		t.Fatalf("create hosts %+v", in)
	}
	h.do(t, "POST", "/api/v1/user/secrets/"+testID+"/rollback", `{"version":3}`)
	if v := h.svc.last(t).Args.(int); v != 3 {
		t.Fatalf("rollback version %d", v)
	}
	h.do(t, "POST", "/api/v1/user/secrets/preset", `{"provider":"github","value":"ghp"}`)
	if v := h.svc.last(t).Args.(broker.PresetInput); v.Provider != "github" || v.Value != "ghp" || v.EgressHosts != nil {
		t.Fatalf("preset args %+v", v)
	}
	h.do(t, "POST", "/api/v1/runtimes", `{"project_id":"p1","secret_ids":[],"delivery":"egress"}`)
	if in := h.svc.last(t).Args.(broker.RuntimeInput); in.Delivery != "egress" {
		t.Fatalf("runtime delivery %+v", in)
	}
	h.do(t, "POST", "/api/v1/runtimes", `{"project_id":"p1","name":"dev","secret_ids":["a","b"]}`)
	if in := h.svc.last(t).Args.(broker.RuntimeInput); in.ProjectID != "p1" || in.Name != "dev" || !slices.Equal(in.SecretIDs, []string{"a", "b"}) {
		t.Fatalf("runtime input %+v", in)
	}
	h.do(t, "POST", "/api/v1/evaluations", `{"project_id":"p2","secret_ids":["a"],"items":[{"name":"x"},{"name":"y"}],"delivery":"env"}`)
	if in := h.svc.last(t).Args.(broker.EvaluationInput); in.ProjectID != "p2" || in.Delivery != "env" || !slices.Equal(in.Items, []string{"x", "y"}) || !slices.Equal(in.SecretIDs, []string{"a"}) {
		t.Fatalf("evaluation input %+v", in)
	}
}

// TestRestartSelection: no body or a null selection keeps the runtime's
// selection (nil reaches the service); an empty array clears it.
func TestRestartSelection(t *testing.T) {
	h := newHarness(t, Config{})
	path := "/api/v1/runtimes/" + testID + "/restart"
	for _, tc := range []struct {
		body    string
		wantNil bool
		want    []string
	}{
		{"", true, nil},
		{`{}`, true, nil},
		{`{"secret_ids":null}`, true, nil},
		{`{"secret_ids":[]}`, false, []string{}},
		{`{"secret_ids":["x"]}`, false, []string{"x"}},
	} {
		if rec := h.do(t, "POST", path, tc.body); rec.Code != http.StatusOK {
			t.Fatalf("restart %q: %d %s", tc.body, rec.Code, rec.Body)
		}
		got := h.svc.last(t).Args.([]string)
		if (got == nil) != tc.wantNil || !slices.Equal(got, tc.want) {
			t.Errorf("restart %q passed %#v, want %#v", tc.body, got, tc.want)
		}
	}
	rec := h.do(t, "POST", path, `{"secret_ids":"x"}`)
	env := wantEnvelope(t, rec, http.StatusUnprocessableEntity, "validation_error")
	if len(env.Errors) != 1 || env.Errors[0].Field != "secret_ids" {
		t.Fatalf("restart with a string selection: %+v", env)
	}
}

// TestListsAreNeverNull: an empty list is [], with its total.
func TestListsAreNeverNull(t *testing.T) {
	h := newHarness(t, Config{})
	for path, field := range map[string]string{
		"/api/v1/user/secrets":                         "secrets",
		"/api/v1/runtimes":                             "runtimes",
		"/api/v1/user/secrets/" + testID + "/versions": "versions",
	} {
		rec := h.do(t, "GET", path, "")
		body := decode[map[string]any](t, rec)
		list, ok := body[field].([]any)
		if !ok || len(list) != 0 || body["total"] != float64(0) {
			t.Errorf("GET %s: %s", path, rec.Body)
		}
	}
}
