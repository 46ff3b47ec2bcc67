package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/internal/testenv"
	"github.com/acme/secretsbroker/layout"
	"github.com/acme/secretsbroker/vaultx"
)

// TestAPIEgressHosts: egress_hosts on create, presets and PUT, with field
// errors; a PUT of the hosts alone writes no new version.
func TestAPIEgressHosts(t *testing.T) {
	e := newAPIEnv(t)
	b := e.broker(true, nil)
	user, key := e.user("egh")
	c := e.client(b, key)

	// Validation: each bad list is refused naming the field, nothing changes.
	before := kvTree(t, e.root, user)
	many := make([]string, broker.MaxEgressHosts+1)
	for i := range many {
		many[i] = fmt.Sprintf("h%d.example.com", i)
	}
	for name, tc := range map[string]struct {
		hosts []string
		field string
	}{
		"ip address":       {[]string{"api.openai.com", "10.0.0.1"}, "egress_hosts[1]"},
		"port":             {[]string{"api.openai.com:443"}, "egress_hosts[0]"},
		"upper case":       {[]string{"API.openai.com"}, "egress_hosts[0]"},
		"one label":        {[]string{"localhost"}, "egress_hosts[0]"},
		"inner wildcard":   {[]string{"a.*.example.com"}, "egress_hosts[0]"},
		"two-label wild":   {[]string{"*.*.example.com"}, "egress_hosts[0]"},
		"url":              {[]string{"https://api.openai.com"}, "egress_hosts[0]"},
		"empty":            {[]string{""}, "egress_hosts[0]"},
		"duplicate":        {[]string{"a.example.com", "b.example.com", "a.example.com"}, "egress_hosts[2]"},
		"too many":         {many, "egress_hosts"},
		"trailing dot":     {[]string{"api.openai.com."}, "egress_hosts[0]"},
		"ipv6 in brackets": {[]string{"[::1]"}, "egress_hosts[0]"},
	} {
		r := c.do("POST", "/api/v1/user/secrets", map[string]any{"name": "EGH_BAD", "value": value("v"), "egress_hosts": tc.hosts})
		checkEnvelope(t, r, 422, "validation_error", tc.field)
		if t.Failed() {
			t.Fatalf("%s: %s", name, r.Body)
		}
	}
	if after := kvTree(t, e.root, user); after != before {
		t.Fatal("a refused create changed Vault")
	}

	// Create with hosts, and without ([]).
	v1 := value("sk-egh-value-long-enough-to-show-a-prefix")
	s := secretOf(t, c.do("POST", "/api/v1/user/secrets", map[string]any{"name": "EGH_A", "value": v1, "egress_hosts": []string{"api.example.com", "*.example.org"}}))
	id := str(t, s, "id")
	if got := strs(arr(t, s, "egress_hosts")); !slices.Equal(got, []string{"api.example.com", "*.example.org"}) {
		t.Fatalf("created egress_hosts %v", got)
	}
	plain := secretOf(t, c.do("POST", "/api/v1/user/secrets", map[string]any{"name": "EGH_PLAIN", "value": value("p")}))
	if h := arr(t, plain, "egress_hosts"); len(h) != 0 {
		t.Fatalf("egress_hosts of a secret without: %v", h)
	}
	g := secretOf(t, c.do("GET", "/api/v1/user/secrets/"+id, nil))
	if got := strs(arr(t, g, "egress_hosts")); !slices.Equal(got, []string{"api.example.com", "*.example.org"}) {
		t.Fatalf("GET egress_hosts %v", got)
	}

	// Presets show their defaults and apply them.
	r := c.do("GET", "/api/v1/user/secrets/presets", nil)
	wantStatus(t, r, 200)
	var pl struct {
		Presets []broker.Preset `json:"presets"`
	}
	r.JSON(t, &pl)
	want := map[string][]string{"openai": {"api.openai.com"}, "anthropic": {"api.anthropic.com"}, "github": {"api.github.com", "github.com", "uploads.github.com"}}
	for _, p := range pl.Presets {
		if !slices.Equal(p.EgressHosts, want[p.Provider]) {
			t.Errorf("preset %s egress_hosts %v, want %v", p.Provider, p.EgressHosts, want[p.Provider])
		}
	}
	gh := secretOf(t, c.do("POST", "/api/v1/user/secrets/preset", map[string]any{"provider": "github", "value": value("ghp")}))
	if got := strs(arr(t, gh, "egress_hosts")); !slices.Equal(got, want["github"]) {
		t.Fatalf("github preset secret egress_hosts %v", got)
	}
	oa := secretOf(t, c.do("POST", "/api/v1/user/secrets/preset", map[string]any{"provider": "openai", "value": value("sk"), "egress_hosts": []string{}}))
	if h := arr(t, oa, "egress_hosts"); len(h) != 0 {
		t.Fatalf("preset with egress_hosts [] got %v", h)
	}
	checkEnvelope(t, c.do("POST", "/api/v1/user/secrets/preset", map[string]any{"provider": "anthropic", "value": value("a"), "egress_hosts": []string{"1.2.3.4"}}),
		422, "validation_error", "egress_hosts[0]")

	// PUT hosts only: same version, same preview, new hosts; versions list unchanged.
	up := secretOf(t, c.do("PUT", "/api/v1/user/secrets/"+id, map[string]any{"egress_hosts": []string{"api.example.net"}}))
	if num(t, up, "version") != 1 || up["fingerprint"] != s["fingerprint"] || up["masked_value"] != s["masked_value"] ||
		!slices.Equal(strs(arr(t, up, "egress_hosts")), []string{"api.example.net"}) {
		t.Fatalf("PUT hosts only: %v", up)
	}
	vl := decodeObj(t, c.do("GET", "/api/v1/user/secrets/"+id+"/versions", nil))
	if num(t, vl, "total") != 1 {
		t.Fatalf("PUT hosts only made a version: %v", vl)
	}
	g = secretOf(t, c.do("GET", "/api/v1/user/secrets/"+id, nil))
	if !slices.Equal(strs(arr(t, g, "egress_hosts")), []string{"api.example.net"}) || num(t, g, "version") != 1 {
		t.Fatalf("GET after PUT hosts: %v", g)
	}
	// The list (cached in Redis) shows it too.
	l := decodeObj(t, c.do("GET", "/api/v1/user/secrets", nil))
	for _, x := range arr(t, l, "secrets") {
		if m := x.(map[string]any); m["id"] == id && !slices.Equal(strs(arr(t, m, "egress_hosts")), []string{"api.example.net"}) {
			t.Fatalf("list shows %v", m["egress_hosts"])
		}
	}

	// PUT value only keeps the hosts; PUT both changes both.
	up = secretOf(t, c.do("PUT", "/api/v1/user/secrets/"+id, map[string]any{"value": value("second")}))
	if num(t, up, "version") != 2 || !slices.Equal(strs(arr(t, up, "egress_hosts")), []string{"api.example.net"}) {
		t.Fatalf("PUT value only: %v", up)
	}
	up = secretOf(t, c.do("PUT", "/api/v1/user/secrets/"+id, map[string]any{"value": value("third"), "egress_hosts": []string{"x.example.com", "y.example.com"}}))
	if num(t, up, "version") != 3 || !slices.Equal(strs(arr(t, up, "egress_hosts")), []string{"x.example.com", "y.example.com"}) {
		t.Fatalf("PUT both: %v", up)
	}
	// Many long hosts survive KV's 512-byte custom metadata values.
	long := make([]string, broker.MaxEgressHosts)
	for i := range long {
		long[i] = fmt.Sprintf("%s%02d.example.com", strings.Repeat("h", 60), i)
	}
	up = secretOf(t, c.do("PUT", "/api/v1/user/secrets/"+id, map[string]any{"egress_hosts": long}))
	g = secretOf(t, c.do("GET", "/api/v1/user/secrets/"+id, nil))
	if !slices.Equal(strs(arr(t, g, "egress_hosts")), long) || num(t, g, "version") != 3 {
		t.Fatalf("20 long hosts: %v", g["egress_hosts"])
	}
	// Clearing, and bad PUTs.
	up = secretOf(t, c.do("PUT", "/api/v1/user/secrets/"+id, map[string]any{"egress_hosts": []string{}}))
	if len(arr(t, up, "egress_hosts")) != 0 {
		t.Fatalf("cleared hosts: %v", up)
	}
	before = kvTree(t, e.root, user)
	checkEnvelope(t, c.do("PUT", "/api/v1/user/secrets/"+id, map[string]any{"egress_hosts": []string{"ok.example.com", "bad host"}}), 422, "validation_error", "egress_hosts[1]")
	checkEnvelope(t, c.do("PUT", "/api/v1/user/secrets/"+id, map[string]any{"value": "", "egress_hosts": []string{"a.example.com"}}), 422, "validation_error", "value")
	checkEnvelope(t, c.do("PUT", "/api/v1/user/secrets/"+broker.NewID(), map[string]any{"egress_hosts": []string{"a.example.com"}}), 404, "not_found")
	if after := kvTree(t, e.root, user); after != before {
		t.Fatal("a refused PUT changed Vault")
	}
	_ = up
}

func strs(a []any) []string {
	out := make([]string, len(a))
	for i, x := range a {
		out[i], _ = x.(string)
	}
	return out
}

// egressBroker starts a broker with egress delivery configured.
func egressBroker(e *apiEnv, extra map[string]string) (*brokerProc, string) {
	e.t.Helper()
	certs := writeTestCerts(e.t)
	env := map[string]string{"BROKER_EGRESS_PROXY_URL": "http://127.0.0.1:3128", "BROKER_EGRESS_CA_CERT": certs.ca, "BROKER_EGRESS_LIFETIME": "2h"}
	for k, v := range extra {
		env[k] = v
	}
	ca, err := os.ReadFile(certs.ca)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.broker(true, env), string(ca)
}

var placeholderRE = regexp.MustCompile(`^(.*)(bph_[0-9A-Za-z]{32})$`)

// kvData reads a record's KV data with the root token (nil when absent).
func kvData(t *testing.T, vc *vaultapi.Client, p string) map[string]any {
	t.Helper()
	s, err := vc.Logical().Read(layout.DataPath(vaultx.DefaultKVMount, p))
	if err != nil {
		t.Fatalf("read %s: %v", p, err)
	}
	if s == nil || s.Data["data"] == nil {
		return nil
	}
	return s.Data["data"].(map[string]any)
}

// egressBootstrap is the bootstrap of an egress answer.
type egressBootstrap struct {
	bootstrap
	Delivery string `json:"delivery"`
	ProxyURL string `json:"proxy_url"`
}

func egressSandbox(t *testing.T, r response) (rid string, b egressBootstrap) {
	t.Helper()
	var rt struct {
		ID      string `json:"id"`
		Sandbox struct {
			ID        string           `json:"id"`
			Delivery  string           `json:"delivery"`
			Bootstrap *egressBootstrap `json:"bootstrap"`
		} `json:"sandbox"`
	}
	r.JSON(t, &rt)
	if rt.Sandbox.Bootstrap == nil || rt.Sandbox.Delivery != broker.DeliveryEgress {
		t.Fatalf("not an egress sandbox: %s", r.Body)
	}
	planted.add("bootstrap token", rt.Sandbox.Bootstrap.Token)
	return rt.ID, *rt.Sandbox.Bootstrap
}

// TestAPIEgressDelivery: a runtime with delivery egress. The real
// sandbox-init unwraps placeholders, proxy settings with per-sandbox
// credentials and the CA (written to a CA bundle); no value anywhere in the
// bundle; egressd's records are in KV with the right hashes, hosts and
// expiry and egressd's AppRole can read them and decrypt; restart and
// delete remove them.
func TestAPIEgressDelivery(t *testing.T) {
	e := newAPIEnv(t)
	b, caPEM := egressBroker(e, nil)
	user, key := e.user("egd")
	c := e.client(b, key)
	long := value("sk-proj-egress-openai-value-0123456789")
	short := value("gh")
	oid := str(t, secretOf(t, c.do("POST", "/api/v1/user/secrets/preset", map[string]any{"provider": "openai", "value": long})), "id")
	gid := str(t, secretOf(t, c.do("POST", "/api/v1/user/secrets", map[string]any{"name": "SHORT_KEY", "value": short[:20], "egress_hosts": []string{"*.example.com", "api.openai.com"}})), "id")
	planted.add("secret value", short[:20])
	nid := str(t, secretOf(t, c.do("POST", "/api/v1/user/secrets", map[string]any{"name": "NO_HOSTS_KEY", "value": value("nh")})), "id")

	// Refusals: a secret without egress_hosts (named), an unknown delivery.
	r := c.do("POST", "/api/v1/runtimes", map[string]any{"project_id": "p", "secret_ids": []string{oid, nid}, "delivery": "egress"})
	env := checkEnvelope(t, r, 422, "validation_error", "secret_ids[1]")
	if !strings.Contains(string(r.Body), "NO_HOSTS_KEY") || !strings.Contains(string(r.Body), nid) {
		t.Fatalf("422 does not name the secret: %s", r.Body)
	}
	_ = env
	checkEnvelope(t, c.do("POST", "/api/v1/runtimes", map[string]any{"project_id": "p", "secret_ids": []string{oid}, "delivery": "carrier-pigeon"}), 422, "validation_error", "delivery")
	checkEnvelope(t, c.do("POST", "/api/v1/evaluations", map[string]any{"project_id": "p", "secret_ids": []string{nid}, "items": []map[string]string{{"name": "a"}}, "delivery": "egress"}),
		422, "validation_error", "secret_ids[0]")
	if n := userEgress(t, e.root, user); n != 0 {
		t.Fatalf("refused requests left %d egress records", n)
	}

	// An env runtime still gets the values (the default), delivery env.
	r = c.do("POST", "/api/v1/runtimes", map[string]any{"project_id": "p", "secret_ids": []string{oid}})
	wantStatus(t, r, 201)
	var envRT struct {
		Sandbox struct {
			Delivery  string `json:"delivery"`
			Bootstrap struct {
				Delivery string  `json:"delivery"`
				ProxyURL *string `json:"proxy_url"`
				Token    string  `json:"token"`
			} `json:"bootstrap"`
		} `json:"sandbox"`
	}
	r.JSON(t, &envRT)
	if envRT.Sandbox.Delivery != "env" || envRT.Sandbox.Bootstrap.Delivery != "env" || envRT.Sandbox.Bootstrap.ProxyURL != nil {
		t.Fatalf("env runtime: %s", r.Body)
	}
	planted.add("bootstrap token", envRT.Sandbox.Bootstrap.Token)

	// The egress runtime.
	start := time.Now()
	r = c.do("POST", "/api/v1/runtimes", map[string]any{"project_id": "p", "secret_ids": []string{oid, gid}, "delivery": "egress"})
	wantStatus(t, r, 201)
	rid, bs := egressSandbox(t, r)
	if bs.ProxyURL != "http://127.0.0.1:3128" || bs.Delivery != "egress" {
		t.Fatalf("bootstrap delivery %q proxy_url %q", bs.Delivery, bs.ProxyURL)
	}
	if !slices.Equal(bs.EnvNames, []string{"OPENAI_API_KEY", "SHORT_KEY"}) {
		t.Fatalf("env_names %v", bs.EnvNames)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "env")
	res := sandboxInit(t, &bs.bootstrap, nil, "write", "--out", out)
	if res.code != 0 {
		t.Fatalf("sandbox-init: %d %s", res.code, res.stderr)
	}
	names := []string{"OPENAI_API_KEY", "SHORT_KEY", "HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "NO_PROXY", "no_proxy",
		"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", "GIT_SSL_CAINFO", broker.EgressCAKey}
	got := sourceEnvFile(t, out, names)
	if got[broker.EgressCAKey] != "" {
		t.Fatal("the CA PEM was exported")
	}
	raw, _ := os.ReadFile(out)
	for _, v := range []string{long, short[:20]} {
		if strings.Contains(string(raw), v) || strings.Contains(res.stdout+res.stderr, v) {
			t.Fatal("a value reached the egress sandbox")
		}
	}
	// Placeholders: the prefix masked_value shows, bph_, 32 base62.
	tokens := map[string]string{}
	for name, wantPrefix := range map[string]string{"OPENAI_API_KEY": long[:4], "SHORT_KEY": ""} {
		m := placeholderRE.FindStringSubmatch(got[name])
		if m == nil || m[1] != wantPrefix {
			t.Fatalf("%s = %q, want %q + bph_ + 32 base62", name, got[name], wantPrefix)
		}
		tokens[name] = m[2]
	}
	for _, tok := range tokens {
		planted.add("secret value", tok) // a placeholder: in the bundle only, never in logs, Redis or answers
	}
	if tokens["OPENAI_API_KEY"] == tokens["SHORT_KEY"] {
		t.Fatal("two secrets share a placeholder")
	}
	// Proxy variables: the sandbox's own credentials.
	pu, err := url.Parse(got["HTTPS_PROXY"])
	if err != nil || pu.Scheme != "http" || pu.Host != "127.0.0.1:3128" || pu.User.Username() != bs.SandboxID {
		t.Fatalf("HTTPS_PROXY %q", got["HTTPS_PROXY"])
	}
	cred, _ := pu.User.Password()
	if len(cred) != 32 {
		t.Fatalf("proxy credential of %d characters", len(cred))
	}
	planted.add("secret value", cred) // in the bundle only
	for _, n := range []string{"HTTP_PROXY", "https_proxy", "http_proxy"} {
		if got[n] != got["HTTPS_PROXY"] {
			t.Errorf("%s = %q", n, got[n])
		}
	}
	if got["NO_PROXY"] != broker.DefaultNoProxy || got["no_proxy"] != broker.DefaultNoProxy {
		t.Errorf("NO_PROXY %q", got["NO_PROXY"])
	}
	caFile := out + ".ca.pem"
	for _, n := range caVars() {
		if got[n] != caFile {
			t.Errorf("%s = %q, want %q", n, got[n], caFile)
		}
	}
	if b, err := os.ReadFile(caFile); err != nil || !strings.HasSuffix(string(b), caPEM) {
		t.Fatalf("CA bundle: %v", err)
	}
	// The records, exactly.
	sbRec := kvData(t, e.root, layout.EgressSandboxPath(bs.SandboxID))
	if sbRec == nil {
		t.Fatal("no egress sandbox record")
	}
	wantKeys(t, "sandbox record", sbRec, "sandbox_id", "runtime_id", "user_id", "credential_hash", "hosts", "expires_at")
	exp, _ := time.Parse(time.RFC3339Nano, sbRec["expires_at"].(string))
	if sbRec["sandbox_id"] != bs.SandboxID || sbRec["runtime_id"] != rid || sbRec["user_id"] != user ||
		sbRec["credential_hash"] != broker.CredentialHash(cred) ||
		!slices.Equal(strs(sbRec["hosts"].([]any)), []string{"api.openai.com", "*.example.com"}) ||
		exp.Before(start.Add(2*time.Hour-time.Minute)) || exp.After(time.Now().Add(2*time.Hour+time.Minute)) {
		t.Fatalf("sandbox record %v", sbRec)
	}
	for name, sid := range map[string]string{"OPENAI_API_KEY": oid, "SHORT_KEY": gid} {
		rec := kvData(t, e.root, layout.EgressPlaceholderPath(broker.TokenHash(tokens[name])))
		wantKeys(t, "placeholder record", rec, "sandbox_id", "user_id", "secret_id", "prefix", "hosts")
		wantHosts := map[string][]string{"OPENAI_API_KEY": {"api.openai.com"}, "SHORT_KEY": {"*.example.com", "api.openai.com"}}[name]
		if rec["sandbox_id"] != bs.SandboxID || rec["user_id"] != user || rec["secret_id"] != sid ||
			rec["prefix"] != strings.TrimSuffix(got[name], tokens[name]) || !slices.Equal(strs(rec["hosts"].([]any)), wantHosts) {
			t.Fatalf("%s placeholder record %v", name, rec)
		}
	}
	for _, p := range listKV(t, e.root, "egress/") {
		if strings.Contains(kvEntry(t, e.root, p), long) {
			t.Fatal("a value in an egress record")
		}
	}

	// egressd's AppRole reads the records and the current value.
	eg := egressClient(t, e)
	sr, err := eg.EgressSandbox(bg(), bs.SandboxID)
	if err != nil || sr.CredentialHash != broker.CredentialHash(cred) || sr.RuntimeID != rid {
		t.Fatalf("EgressSandbox: %+v, %v", sr, err)
	}
	pr, err := eg.EgressPlaceholder(bg(), broker.TokenHash(tokens["OPENAI_API_KEY"]))
	if err != nil || pr.SecretID != oid || pr.Prefix != long[:4] {
		t.Fatalf("EgressPlaceholder: %+v, %v", pr, err)
	}
	if v, err := eg.CurrentValue(bg(), user, oid); err != nil || v != long {
		t.Fatalf("CurrentValue: %v (right value: %t)", err, v == long)
	}
	if _, err := eg.EgressPlaceholder(bg(), broker.TokenHash("bph_absent")); !broker.IsCode(err, broker.CodeNotFound) {
		t.Fatalf("absent placeholder: %v", err)
	}

	// Restart (keeping the delivery) removes the old sandbox's records.
	r = c.do("POST", "/api/v1/runtimes/"+rid+"/restart", map[string]any{})
	wantStatus(t, r, 200)
	_, bs2 := egressSandbox(t, r)
	if kvData(t, e.root, layout.EgressSandboxPath(bs.SandboxID)) != nil {
		t.Fatal("restart left the old sandbox record")
	}
	for _, tok := range tokens {
		if kvData(t, e.root, layout.EgressPlaceholderPath(broker.TokenHash(tok))) != nil {
			t.Fatal("restart left an old placeholder record")
		}
	}
	if kvData(t, e.root, layout.EgressSandboxPath(bs2.SandboxID)) == nil {
		t.Fatal("no record of the new sandbox")
	}
	if n := userEgress(t, e.root, user); n != 3 {
		t.Fatalf("%d egress records after restart, want 3", n)
	}
	// Restart into env delivery removes them too.
	r = c.do("POST", "/api/v1/runtimes/"+rid+"/restart", map[string]any{"delivery": "env"})
	wantStatus(t, r, 200)
	var rt3 struct {
		Sandbox struct {
			Bootstrap struct{ Token string } `json:"bootstrap"`
		} `json:"sandbox"`
	}
	r.JSON(t, &rt3)
	planted.add("bootstrap token", rt3.Sandbox.Bootstrap.Token)
	if n := userEgress(t, e.root, user); n != 0 {
		t.Fatalf("restart into env left %d egress records", n)
	}
	// Back to egress, then delete.
	r = c.do("POST", "/api/v1/runtimes/"+rid+"/restart", map[string]any{"delivery": "egress"})
	wantStatus(t, r, 200)
	_, bs4 := egressSandbox(t, r)
	if kvData(t, e.root, layout.EgressSandboxPath(bs4.SandboxID)) == nil {
		t.Fatal("no record after restart into egress")
	}
	wantStatus(t, c.do("DELETE", "/api/v1/runtimes/"+rid, nil), 204)
	if n := userEgress(t, e.root, user); n != 0 {
		t.Fatalf("delete left %d egress records", n)
	}

	// Evaluations: both sandboxes of each item have their own records.
	r = c.do("POST", "/api/v1/evaluations", map[string]any{"project_id": "p", "secret_ids": []string{oid}, "items": []map[string]string{{"name": "a"}, {"name": "b"}}, "delivery": "egress"})
	wantStatus(t, r, 201)
	type evSandbox struct {
		ID        string `json:"id"`
		Delivery  string `json:"delivery"`
		Bootstrap struct {
			Token    string `json:"token"`
			ProxyURL string `json:"proxy_url"`
		} `json:"bootstrap"`
	}
	var evRaw struct {
		Items []struct {
			RuntimeSandbox evSandbox `json:"runtime_sandbox"`
			TaskSandbox    evSandbox `json:"task_sandbox"`
		} `json:"items"`
	}
	if err := json.Unmarshal(r.Body, &evRaw); err != nil {
		t.Fatal(err)
	}
	for _, it := range evRaw.Items {
		for k, sb := range map[string]evSandbox{"runtime_sandbox": it.RuntimeSandbox, "task_sandbox": it.TaskSandbox} {
			planted.add("bootstrap token", sb.Bootstrap.Token)
			if sb.Delivery != "egress" || sb.Bootstrap.ProxyURL == "" || kvData(t, e.root, layout.EgressSandboxPath(sb.ID)) == nil {
				t.Fatalf("evaluation %s: %+v", k, sb)
			}
		}
	}
	if n := userEgress(t, e.root, user); n != 8 {
		t.Fatalf("%d egress records for 4 sandboxes of one secret, want 8", n)
	}
}

func caVars() []string {
	return []string{"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", "GIT_SSL_CAINFO"}
}

func wantKeys(t *testing.T, what string, m map[string]any, keys ...string) {
	t.Helper()
	var got []string
	for k := range m {
		got = append(got, k)
	}
	slices.Sort(got)
	slices.Sort(keys)
	if !slices.Equal(got, keys) {
		t.Fatalf("%s keys %v, want %v", what, got, keys)
	}
}

// listKV lists the entries (not folders) under a folder of the KV mount, recursively.
func listKV(t *testing.T, vc *vaultapi.Client, folder string) []string {
	t.Helper()
	s, err := vc.Logical().List(layout.MetadataPath(vaultx.DefaultKVMount, folder))
	if err != nil {
		t.Fatalf("list %s: %v", folder, err)
	}
	if s == nil {
		return nil
	}
	var out []string
	keys, _ := s.Data["keys"].([]any)
	for _, k := range keys {
		name := folder + fmt.Sprint(k)
		if strings.HasSuffix(name, "/") {
			out = append(out, listKV(t, vc, name)...)
		} else {
			out = append(out, name)
		}
	}
	return out
}

// userEgress counts the egress records (sandboxes and placeholders) of user.
func userEgress(t *testing.T, vc *vaultapi.Client, user string) int {
	t.Helper()
	n := 0
	for _, p := range listKV(t, vc, "egress/") {
		if d := kvData(t, vc, p); d != nil && d["user_id"] == user {
			n++
		}
	}
	return n
}

// egressClient is a vaultx client logged in with egressd's AppRole.
func egressClient(t *testing.T, e *apiEnv) *vaultx.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := vaultx.New(ctx, vaultx.Config{Addr: e.vault.Addr, RoleIDFile: e.cfg.egressRoleIDFile, SecretIDFile: e.cfg.egressSecretIDFile}, nopLogger())
	if err != nil {
		t.Fatalf("egressd login: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestAPIEgressFailureLeavesNoRecords: when provisioning fails after the
// egress records were written (the bundle cannot be wrapped), or while they
// are written (a placeholder write refused), none is left; the next
// provisioning works. A private Vault: the test changes the broker's policy.
func TestAPIEgressFailureLeavesNoRecords(t *testing.T) {
	v := testenv.StartVault(t)
	cfg := setupVault(t, v)
	certs := writeTestCerts(t)
	b := startBroker(t, cfg, map[string]string{"BROKER_EGRESS_PROXY_URL": "http://127.0.0.1:3128", "BROKER_EGRESS_CA_CERT": certs.ca})
	t.Cleanup(func() {
		if l := findLeaks(b.Logs.String()); len(l) > 0 {
			t.Errorf("LEAK: broker logs contain %v", l)
		}
	})
	key := newAPIKey(t, v, "egf-user")
	planted.add("api key", key)
	c := newClient(t, b.URL, key)
	val := value("sk-egress-failure-value-0123456789")
	r := c.do("POST", "/api/v1/user/secrets/preset", map[string]any{"provider": "openai", "value": val})
	wantStatus(t, r, 201)
	var sec struct{ ID string }
	r.JSON(t, &sec)
	root := rootVault(t, v)
	base := vaultx.PolicyHCL(vaultx.DefaultKVMount, vaultx.DefaultTransitMount, vaultx.DefaultTransitKey)
	for name, deny := range map[string]string{
		"wrap fails":              layout.DataPath(vaultx.DefaultKVMount, layout.AreaSandboxes+"/*"),
		"placeholder write fails": layout.DataPath(vaultx.DefaultKVMount, "egress/placeholders/*"),
	} {
		pol := base + fmt.Sprintf("\npath %q {\n  capabilities = [\"deny\"]\n}\n", deny)
		if err := root.Sys().PutPolicy(vaultx.DefaultPolicyName, pol); err != nil {
			t.Fatal(err)
		}
		r := c.do("POST", "/api/v1/runtimes", map[string]any{"project_id": "p", "secret_ids": []string{sec.ID}, "delivery": "egress"})
		if r.Status == 201 {
			t.Fatalf("%s: provisioning succeeded", name)
		}
		if left := listKV(t, root, "egress/"); len(left) != 0 {
			t.Fatalf("%s: %d egress records left: %v", name, len(left), left)
		}
		if left := listKV(t, root, "sandboxes/"); len(left) != 0 {
			t.Fatalf("%s: sandbox bundles left: %v", name, left)
		}
		if strings.Contains(string(r.Body), val) {
			t.Fatal("the error answer carries the value")
		}
	}
	if err := root.Sys().PutPolicy(vaultx.DefaultPolicyName, base); err != nil {
		t.Fatal(err)
	}
	r = c.do("POST", "/api/v1/runtimes", map[string]any{"project_id": "p", "secret_ids": []string{sec.ID}, "delivery": "egress"})
	wantStatus(t, r, 201)
	_, bs := egressSandbox(t, r)
	if len(listKV(t, root, "egress/")) != 2 || kvData(t, root, layout.EgressSandboxPath(bs.SandboxID)) == nil {
		t.Fatal("provisioning after the failures wrote no records")
	}
	if l := findLeaks(c.bodies.String(), "secret value", "api key"); len(l) > 0 {
		t.Errorf("LEAK: answers contain %v", l)
	}
}
