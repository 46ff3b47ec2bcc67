package main

import (
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// checkSandbox checks a Sandbox object; withToken says whether its bootstrap
// (and token) must be there. It returns the token, if any.
func checkSandbox(t *testing.T, sb map[string]any, withToken bool, envNames []string) string {
	t.Helper()
	if withToken {
		checkKeys(t, "sandbox", sb, "id", "env_names", "expires_at", "created_at", "delivery", "bootstrap")
	} else {
		checkKeys(t, "sandbox", sb, "id", "env_names", "expires_at", "created_at", "delivery")
	}
	str(t, sb, "id")
	exp := rfc3339(t, sb, "expires_at")
	if !exp.After(time.Now()) || exp.After(time.Now().Add(time.Hour)) {
		t.Errorf("sandbox expires_at %s", exp)
	}
	rfc3339(t, sb, "created_at")
	var names []string
	for _, n := range arr(t, sb, "env_names") {
		names = append(names, n.(string))
	}
	if strings.Join(names, ",") != strings.Join(envNames, ",") {
		t.Errorf("env_names %v, want %v", names, envNames)
	}
	if !withToken {
		return ""
	}
	bs := obj(t, sb, "bootstrap")
	if _, ok := bs["accessor"]; ok {
		checkKeys(t, "bootstrap", bs, "sandbox_id", "vault_addr", "token", "accessor", "creation_path", "expires_at", "env_names", "delivery")
		if acc := str(t, bs, "accessor"); acc == "" || acc == bs["token"] {
			t.Errorf("accessor %q", acc)
		}
	} else {
		checkKeys(t, "bootstrap", bs, "sandbox_id", "vault_addr", "token", "creation_path", "expires_at", "env_names", "delivery")
	}
	if bs["sandbox_id"] != sb["id"] {
		t.Errorf("bootstrap sandbox_id %v, sandbox id %v", bs["sandbox_id"], sb["id"])
	}
	if cp := str(t, bs, "creation_path"); cp != "broker/data/sandboxes/"+sb["id"].(string) {
		t.Errorf("creation_path %q", cp)
	}
	str(t, bs, "vault_addr")
	rfc3339(t, bs, "expires_at")
	tok := str(t, bs, "token")
	if tok == "" {
		t.Error("empty bootstrap token")
	}
	planted.add("bootstrap token", tok)
	return tok
}

// TestAPIRuntimesAndEvaluations: the provisioning endpoints with exact
// shapes. Only the POST that mints a bootstrap shows its token; the token
// unwraps (once) to exactly the selected env; restart mints a new sandbox and
// revokes the old token; delete revokes and forgets.
func TestAPIRuntimesAndEvaluations(t *testing.T) {
	e := newAPIEnv(t)
	b := e.broker(true, nil)
	_, key := e.user("prov")
	c := e.client(b, key)
	va, vb := value("sk-prov-a"), value("sk-prov-b")
	ida := str(t, secretOf(t, c.do("POST", "/api/v1/user/secrets", map[string]any{"name": "PROV_A", "value": va})), "id")
	idb := str(t, secretOf(t, c.do("POST", "/api/v1/user/secrets/preset", map[string]any{"provider": "anthropic", "value": vb})), "id")

	r := c.do("GET", "/api/v1/runtimes", nil)
	wantStatus(t, r, 200)
	l := decodeObj(t, r)
	checkKeys(t, "runtime list", l, "runtimes", "total")
	if len(arr(t, l, "runtimes")) != 0 {
		t.Fatalf("fresh runtimes: %s", r.Body)
	}

	r = c.do("POST", "/api/v1/runtimes", map[string]any{"project_id": "proj-1", "name": "dev", "secret_ids": []string{ida, idb, ida}})
	wantStatus(t, r, 201)
	rt := decodeObj(t, r)
	checkKeys(t, "runtime", rt, "id", "project_id", "name", "secret_ids", "sandbox", "restarts", "created_at", "updated_at")
	if rt["project_id"] != "proj-1" || rt["name"] != "dev" || num(t, rt, "restarts") != 0 {
		t.Errorf("runtime: %s", r.Body)
	}
	if ids := arr(t, rt, "secret_ids"); len(ids) != 2 {
		t.Errorf("secret_ids %v, want the two distinct ids", ids)
	}
	rfc3339(t, rt, "created_at")
	rfc3339(t, rt, "updated_at")
	tok := checkSandbox(t, obj(t, rt, "sandbox"), true, []string{"ANTHROPIC_API_KEY", "PROV_A"})
	for _, v := range []string{va, vb} {
		if strings.Contains(string(r.Body), v) {
			t.Fatal("the runtime answer carries a secret value")
		}
	}
	rid := str(t, rt, "id")
	sb1 := obj(t, rt, "sandbox")["id"].(string)

	// GET and list never show a token.
	r = c.do("GET", "/api/v1/runtimes/"+rid, nil)
	wantStatus(t, r, 200)
	g := decodeObj(t, r)
	checkSandbox(t, obj(t, g, "sandbox"), false, []string{"ANTHROPIC_API_KEY", "PROV_A"})
	if strings.Contains(string(r.Body), tok) {
		t.Fatal("GET runtime shows the token")
	}
	r = c.do("GET", "/api/v1/runtimes", nil)
	l = decodeObj(t, r)
	if num(t, l, "total") != 1 || strings.Contains(string(r.Body), tok) {
		t.Fatalf("runtime list: %s", r.Body)
	}

	// The token is a real wrapping token with exactly the selected env.
	env := unwrap(t, e, tok)
	if len(env) != 2 || env["PROV_A"] != va || env["ANTHROPIC_API_KEY"] != vb {
		t.Errorf("unwrapped env has names %v", slices.Sorted(maps.Keys(env)))
	}

	// Restart with a narrower selection: new sandbox, restarts 1, new token.
	r = c.do("POST", "/api/v1/runtimes/"+rid+"/restart", map[string]any{"secret_ids": []string{idb}})
	wantStatus(t, r, 200)
	rs := decodeObj(t, r)
	tok2 := checkSandbox(t, obj(t, rs, "sandbox"), true, []string{"ANTHROPIC_API_KEY"})
	if num(t, rs, "restarts") != 1 || obj(t, rs, "sandbox")["id"] == sb1 || tok2 == tok || rs["id"] != rid {
		t.Errorf("restart: %s", r.Body)
	}
	// Restart without a body keeps the selection; the previous token is revoked.
	r = c.do("POST", "/api/v1/runtimes/"+rid+"/restart", nil)
	wantStatus(t, r, 200)
	rs = decodeObj(t, r)
	tok3 := checkSandbox(t, obj(t, rs, "sandbox"), true, []string{"ANTHROPIC_API_KEY"})
	if num(t, rs, "restarts") != 2 {
		t.Errorf("restarts %v", rs["restarts"])
	}
	if lookupToken(t, e, tok2) {
		t.Error("the bootstrap token of the replaced sandbox still lives")
	}

	// Evaluation: per item, a runtime and a task sandbox with their own tokens.
	r = c.do("POST", "/api/v1/evaluations", map[string]any{"project_id": "proj-1", "secret_ids": []string{ida},
		"items": []any{map[string]any{"name": "item-1"}, map[string]any{"name": "item-2"}}})
	wantStatus(t, r, 201)
	ev := decodeObj(t, r)
	checkKeys(t, "evaluation", ev, "id", "project_id", "secret_ids", "items", "created_at")
	rfc3339(t, ev, "created_at")
	items := arr(t, ev, "items")
	if len(items) != 2 {
		t.Fatalf("items: %s", r.Body)
	}
	toks := map[string]bool{}
	for i, x := range items {
		it := x.(map[string]any)
		checkKeys(t, "evaluation item", it, "name", "runtime_sandbox", "task_sandbox")
		if it["name"] != []string{"item-1", "item-2"}[i] {
			t.Errorf("item %d name %v", i, it["name"])
		}
		toks[checkSandbox(t, obj(t, it, "runtime_sandbox"), true, []string{"PROV_A"})] = true
		toks[checkSandbox(t, obj(t, it, "task_sandbox"), true, []string{"PROV_A"})] = true
	}
	if len(toks) != 4 {
		t.Errorf("%d distinct tokens for 4 sandboxes", len(toks))
	}
	eid := str(t, ev, "id")
	r = c.do("GET", "/api/v1/evaluations/"+eid, nil)
	wantStatus(t, r, 200)
	ge := decodeObj(t, r)
	for _, x := range arr(t, ge, "items") {
		it := x.(map[string]any)
		checkSandbox(t, obj(t, it, "runtime_sandbox"), false, []string{"PROV_A"})
		checkSandbox(t, obj(t, it, "task_sandbox"), false, []string{"PROV_A"})
	}
	for tk := range toks {
		if strings.Contains(string(r.Body), tk) {
			t.Fatal("GET evaluation shows a token")
		}
	}

	// An empty selection is allowed: env_names is [], never null.
	r = c.do("POST", "/api/v1/runtimes", map[string]any{"project_id": "proj-2", "secret_ids": []string{}})
	wantStatus(t, r, 201)
	if !strings.Contains(string(r.Body), `"env_names":[]`) {
		t.Errorf("empty selection: %s", r.Body)
	}
	empty := decodeObj(t, r)
	checkSandbox(t, obj(t, empty, "sandbox"), true, nil)

	// Delete: 204, the outstanding token is revoked, the runtime is gone.
	r = c.do("DELETE", "/api/v1/runtimes/"+rid, nil)
	wantStatus(t, r, 204)
	if lookupToken(t, e, tok3) {
		t.Error("the token of a deleted runtime still lives")
	}
	checkEnvelope(t, c.do("GET", "/api/v1/runtimes/"+rid, nil), 404, "not_found")
	checkEnvelope(t, c.do("POST", "/api/v1/runtimes/"+rid+"/restart", nil), 404, "not_found")
	checkEnvelope(t, c.do("DELETE", "/api/v1/runtimes/"+rid, nil), 404, "not_found")
	if l := decodeObj(t, c.do("GET", "/api/v1/runtimes", nil)); num(t, l, "total") != 1 {
		t.Errorf("runtimes after delete: %v", l["total"])
	}
}

// unwrap consumes a wrapping token as sandbox-init would: with a client that
// holds no other token.
func unwrap(t *testing.T, e *apiEnv, tok string) map[string]string {
	t.Helper()
	vc, err := e.root.Clone()
	if err != nil {
		t.Fatal(err)
	}
	vc.ClearToken()
	s, err := vc.Logical().Unwrap(tok)
	if err != nil || s == nil {
		t.Fatalf("unwrap: %v", err)
	}
	data := s.Data
	if inner, ok := data["data"].(map[string]any); ok {
		data = inner
	}
	out := map[string]string{}
	for k, v := range data {
		out[k], _ = v.(string)
	}
	return out
}

// lookupToken reports whether a wrapping token still exists.
func lookupToken(t *testing.T, e *apiEnv, tok string) bool {
	t.Helper()
	req := e.root.NewRequest(http.MethodPost, "/v1/sys/wrapping/lookup")
	if err := req.SetJSONBody(map[string]string{"token": tok}); err != nil {
		t.Fatal(err)
	}
	res, err := e.root.RawRequestWithContext(bg(), req)
	if res != nil {
		defer res.Body.Close()
	}
	if res != nil && res.StatusCode == 200 {
		return true
	}
	if res != nil && res.StatusCode == 400 {
		return false
	}
	t.Fatalf("wrapping lookup: %v", err)
	return false
}
