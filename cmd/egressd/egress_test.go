package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/internal/testenv"
	"github.com/acme/secretsbroker/layout"
)

const openai = "api.openai.com"

// echoAuth answers with the Authorization header it received, in a header
// and in the body (an upstream that reflects it).
func echoAuth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Echo", r.Header.Get("Authorization"))
	_, _ = io.WriteString(w, "auth="+r.Header.Get("Authorization")+"\n")
}

// sandboxCmd runs a client program as a sandbox would: HTTPS_PROXY and the
// CA variables set, nothing else of the test's environment that matters.
func sandboxCmd(t *testing.T, p *proxyd, sb *sandbox, bundle string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	proxy := p.proxyURL(sb)
	cmd.Env = append(os.Environ(), "HTTPS_PROXY="+proxy, "https_proxy="+proxy, "HTTP_PROXY="+proxy, "http_proxy="+proxy,
		"NO_PROXY=", "no_proxy=", "SSL_CERT_FILE="+bundle, "REQUESTS_CA_BUNDLE="+bundle, "CURL_CA_BUNDLE="+bundle)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func pythonWithRequests(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(py, "-c", "import requests").Run() == nil {
			return py
		}
	}
	if testenv.RequireIntegration() {
		t.Fatal("no python3 with requests")
	}
	t.Skip("no python3 with requests")
	return ""
}

const pyGet = `import os, sys, requests
r = requests.get(sys.argv[1], headers={"Authorization": "Bearer " + os.environ["OPENAI_API_KEY"]}, timeout=20)
print(r.status_code)
print(r.headers.get("X-Echo", ""))
print(r.text)
`

// The must-show path: curl and Python's requests through egressd; the
// upstream receives the real value, the sandbox only ever sees the
// placeholder (the echo upstream reflects it), and the value is in none of
// egressd's log lines.
func TestCurlAndRequestsGetTheValueUpstreamOnly(t *testing.T) {
	w := newWorld(t)
	const value = "sk-proj-REALVALUE-0123456789abcdefghij"
	user := testenv.RandID("u")
	id := w.secret(t, user, "OPENAI_API_KEY", value)
	up := testenv.NewUpstream(t, openai, echoAuth)
	p := w.startEgressd(t, []*testenv.Upstream{up}, nil)
	sb := w.provision(t, user, map[string][]string{id: {openai}})
	ph := sb.placeholders[id].String()
	bundle := w.caBundle(t, up)

	out, err := sandboxCmd(t, p, sb, bundle, "curl", "-sS", "--fail-with-body", "-H", "Authorization: Bearer "+ph, "https://"+openai+"/v1/models")
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	if strings.Contains(out, value) || !strings.Contains(out, "auth=Bearer "+ph) {
		t.Fatalf("curl read %q: want the placeholder reflected, never the value", out)
	}
	py := pythonWithRequests(t)
	script := filepath.Join(t.TempDir(), "get.py")
	writeFile(t, script, []byte(pyGet))
	cmd := func() (string, error) {
		os.Setenv("OPENAI_API_KEY", ph) // what the sandbox's environment holds
		defer os.Unsetenv("OPENAI_API_KEY")
		return sandboxCmd(t, p, sb, bundle, py, script, "https://"+openai+"/v1/chat")
	}
	out, err = cmd()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	lines := strings.Split(out, "\n")
	if lines[0] != "200" || lines[1] != "Bearer "+ph || strings.Contains(out, value) {
		t.Fatalf("python read %q: want 200 and the placeholder in header and body", out)
	}
	got := up.Received()
	if len(got) != 2 {
		t.Fatalf("upstream received %d requests, want 2", len(got))
	}
	for _, r := range got {
		if a := r.Header.Get("Authorization"); a != "Bearer "+value {
			t.Fatalf("upstream received Authorization %q, want the real value", a)
		}
		if r.Header.Get("Proxy-Authorization") != "" {
			t.Fatal("the proxy credentials reached the upstream")
		}
	}
	logs := p.logsWhen(func(l string) bool { return strings.Count(l, `"alert":"reflection"`) == 2 })
	for _, enc := range testenv.Encodings(value) {
		if strings.Contains(logs, enc) {
			t.Fatalf("egressd's log holds the value (%q)", enc)
		}
	}
	if strings.Count(logs, `"event":"egress_substitution"`) != 2 || strings.Count(logs, `"alert":"reflection"`) != 2 ||
		!strings.Contains(logs, `"secret_id":"`+id+`"`) || !strings.Contains(logs, `"sandbox_id":"`+sb.id+`"`) {
		t.Fatalf("want two substitution and two reflection lines naming secret and sandbox; log:\n%s", logs)
	}
}

// Git over HTTPS sends the token inside Authorization: Basic.
func TestBasicAuthIsSubstitutedInsideTheCredential(t *testing.T) {
	w := newWorld(t)
	const value = "ghp_REALVALUE0123456789"
	user := testenv.RandID("u")
	id := w.secret(t, user, "GITHUB_TOKEN", value)
	up := testenv.NewUpstream(t, "github.com", nil)
	p := w.startEgressd(t, []*testenv.Upstream{up}, nil)
	sb := w.provision(t, user, map[string][]string{id: {"github.com"}})
	req, _ := http.NewRequest("GET", "https://github.com/acme/repo.git/info/refs", nil)
	req.SetBasicAuth("x-access-token", sb.placeholders[id].String())
	resp, err := w.client(t, p, sb, up).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	u, pw, ok := up.Received()[0].BasicAuth()
	if resp.StatusCode != 200 || !ok || u != "x-access-token" || pw != value {
		t.Fatalf("status %d, upstream basic auth %q:%q", resp.StatusCode, u, pw)
	}
}

func get(t *testing.T, c *http.Client, url, auth string) (*http.Response, string, error) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b), nil
}

// Under EGRESS_INTERCEPT=all, the placeholder sent to a host outside its
// secret's hosts is refused before anything is sent, and the alert names
// secret and sandbox (brokerctl audit alerts exits non-zero on it).
func TestInterceptAllRefusesAPlaceholderToAnotherHost(t *testing.T) {
	w := newWorld(t)
	user := testenv.RandID("u")
	id := w.secret(t, user, "OPENAI_API_KEY", "sk-proj-VALUE-wronghost-0123456789")
	up := testenv.NewUpstream(t, openai, nil)
	other := testenv.NewUpstream(t, "api.anthropic.com", nil)
	p := w.startEgressd(t, []*testenv.Upstream{up, other}, map[string]string{"EGRESS_INTERCEPT": "all"})
	sb := w.provision(t, user, map[string][]string{id: {openai}})
	bundle := w.caBundle(t, up, other)
	out, err := sandboxCmd(t, p, sb, bundle, "curl", "-sS", "-o", "/dev/stderr", "-w", "%{http_code}", "-H", "Authorization: Bearer "+sb.placeholders[id].String(), "https://api.anthropic.com/v1/messages")
	if err != nil || !strings.HasSuffix(out, "403") {
		t.Fatalf("curl: %v %q, want 403", err, out)
	}
	if n := len(other.Received()); n != 0 {
		t.Fatalf("the other upstream received %d requests", n)
	}
	logs := p.logsWhen(func(l string) bool { return strings.Contains(l, `"alert":"wrong_host"`) })
	if !strings.Contains(logs, `"alert":"wrong_host"`) {
		t.Fatalf("no wrong_host alert:\n%s", logs)
	}
	// A request without a placeholder to that host is intercepted and forwarded.
	resp, _, err := get(t, w.client(t, p, sb, up, other), "https://api.anthropic.com/ok", "")
	if err != nil || resp.StatusCode != 200 || len(other.Received()) != 1 {
		t.Fatalf("plain request under intercept=all: %v %v", resp, err)
	}
	auditAlerts(t, p.saveLogs(t), id, sb.id)
}

// auditAlerts runs brokerctl audit alerts on egressd's log: it must exit
// non-zero and name the secret and the sandbox.
func auditAlerts(t *testing.T, logFile string, want ...string) {
	t.Helper()
	bin := testenv.Command(t, "brokerctl")
	out, err := exec.Command(bin, "audit", "alerts", "--egress-log", logFile).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() == 0 {
		t.Fatalf("brokerctl audit alerts: %v, want a non-zero exit\n%s", err, out)
	}
	for _, s := range want {
		if !strings.Contains(string(out), s) {
			t.Fatalf("brokerctl audit alerts does not name %q:\n%s", s, out)
		}
	}
}

// By default a host outside the sandbox's hosts is tunnelled untouched:
// the client sees the upstream's own certificate, and the placeholder goes
// as it is. Under EGRESS_DEFAULT_DENY=1 the CONNECT itself is refused.
func TestOtherHostsAreTunnelledOrRefusedUnderDefaultDeny(t *testing.T) {
	w := newWorld(t)
	user := testenv.RandID("u")
	id := w.secret(t, user, "OPENAI_API_KEY", "sk-proj-VALUE-tunnel-0123456789")
	up := testenv.NewUpstream(t, openai, nil)
	other := testenv.NewUpstream(t, "api.anthropic.com", nil)
	p := w.startEgressd(t, []*testenv.Upstream{up, other}, nil)
	sb := w.provision(t, user, map[string][]string{id: {openai}})
	ph := sb.placeholders[id].String()
	resp, _, err := get(t, w.client(t, p, sb, up, other), "https://api.anthropic.com/v1", "Bearer "+ph)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("tunnelled request: %v %v", resp, err)
	}
	if iss := resp.TLS.PeerCertificates[0].Issuer.CommonName; iss != "upstream CA for api.anthropic.com" {
		t.Fatalf("tunnelled: the client saw a certificate issued by %q, want the upstream's own", iss)
	}
	if a := other.Received()[0].Header.Get("Authorization"); a != "Bearer "+ph {
		t.Fatalf("tunnelled request carried %q, want the placeholder untouched", a)
	}
	// The sandbox's own host is intercepted: the egress CA's leaf.
	resp, _, err = get(t, w.client(t, p, sb, up), "https://"+openai+"/", "")
	if err != nil || resp.TLS.PeerCertificates[0].Issuer.CommonName != "egress CA" {
		t.Fatalf("intercepted: %v %v", resp, err)
	}

	allowed := testenv.NewUpstream(t, "mirror.example.com", nil)
	deny := w.startEgressd(t, []*testenv.Upstream{up, other, allowed}, map[string]string{"EGRESS_DEFAULT_DENY": "1", "EGRESS_ALLOW_HOSTS": "*.example.com"})
	if resp, _, err := get(t, w.client(t, deny, sb, allowed), "https://mirror.example.com/", ""); err != nil || resp.StatusCode != 200 ||
		resp.TLS.PeerCertificates[0].Issuer.CommonName != "upstream CA for mirror.example.com" {
		t.Fatalf("a host of EGRESS_ALLOW_HOSTS under default deny (tunnelled): %v %v", resp, err)
	}
	out, err := sandboxCmd(t, deny, sb, w.caBundle(t, up, other), "curl", "-sS", "-v", "https://api.anthropic.com/v1")
	if err == nil || !strings.Contains(out, "403") {
		t.Fatalf("curl under default deny: %v\n%s", err, out)
	}
	if n := len(other.Received()); n != 1 {
		t.Fatalf("the refused host received a request (%d in all)", n)
	}
	if resp, _, err := get(t, w.client(t, deny, sb, up), "https://"+openai+"/", ""); err != nil || resp.StatusCode != 200 {
		t.Fatalf("the sandbox's own host under default deny: %v %v", resp, err)
	}
}

// A streamed answer (server-sent events) reaches the sandbox event by
// event: the first is read before the upstream sends the last.
func TestServerSentEventsStream(t *testing.T) {
	w := newWorld(t)
	user := testenv.RandID("u")
	const value = "sk-proj-VALUE-stream-0123456789"
	id := w.secret(t, user, "OPENAI_API_KEY", value)
	firstRead := make(chan struct{})
	up := testenv.NewUpstream(t, openai, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-firstRead:
		case <-time.After(10 * time.Second):
			_, _ = io.WriteString(w, "data: TIMEOUT\n\n")
			return
		}
		_, _ = io.WriteString(w, "data: last "+value+"\n\n")
	})
	p := w.startEgressd(t, []*testenv.Upstream{up}, nil)
	sb := w.provision(t, user, map[string][]string{id: {openai}})
	req, _ := http.NewRequest("POST", "https://"+openai+"/v1/chat/completions", strings.NewReader(`{"stream":true}`))
	req.Header.Set("Authorization", "Bearer "+sb.placeholders[id].String())
	resp, err := w.client(t, p, sb, up).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "data: first\n" {
		t.Fatalf("first event: %q %v", line, err)
	}
	close(firstRead)
	rest, _ := io.ReadAll(br)
	if !strings.Contains(string(rest), "data: last "+sb.placeholders[id].String()) {
		t.Fatalf("rest of the stream %q: want the last event, its reflected value replaced", rest)
	}
}

// A new value (PUT) reaches the running sandbox's next request after
// EGRESS_VALUE_TTL, without a restart.
func TestRotatedValueReachesTheNextRequest(t *testing.T) {
	w := newWorld(t)
	user := testenv.RandID("u")
	id := w.secret(t, user, "OPENAI_API_KEY", "sk-proj-VALUE-one-0123456789")
	up := testenv.NewUpstream(t, openai, nil)
	p := w.startEgressd(t, []*testenv.Upstream{up}, map[string]string{"EGRESS_VALUE_TTL": "1s"})
	sb := w.provision(t, user, map[string][]string{id: {openai}})
	c := w.client(t, p, sb, up)
	auth := "Bearer " + sb.placeholders[id].String()
	if _, _, err := get(t, c, "https://"+openai+"/1", auth); err != nil {
		t.Fatal(err)
	}
	w.rotate(t, user, id, "sk-proj-VALUE-two-0123456789")
	time.Sleep(1100 * time.Millisecond)
	if _, _, err := get(t, c, "https://"+openai+"/2", auth); err != nil {
		t.Fatal(err)
	}
	got := up.Received()
	if a, b := got[0].Header.Get("Authorization"), got[1].Header.Get("Authorization"); a != "Bearer sk-proj-VALUE-one-0123456789" || b != "Bearer sk-proj-VALUE-two-0123456789" {
		t.Fatalf("upstream received %q then %q", a, b)
	}
}

// Two replicas on one Vault: deleting a sandbox's records (a runtime
// restarted or deleted) stops both within 5 s, on a kept-alive
// connection too.
func TestRevocationReachesBothReplicasWithinFiveSeconds(t *testing.T) {
	w := newWorld(t)
	user := testenv.RandID("u")
	id := w.secret(t, user, "OPENAI_API_KEY", "sk-proj-VALUE-revoke-0123456789")
	up := testenv.NewUpstream(t, openai, nil)
	p1 := w.startEgressd(t, []*testenv.Upstream{up}, nil)
	p2 := w.startEgressd(t, []*testenv.Upstream{up}, nil)
	sb := w.provision(t, user, map[string][]string{id: {openai}})
	auth := "Bearer " + sb.placeholders[id].String()
	clients := []*http.Client{w.client(t, p1, sb, up), w.client(t, p2, sb, up)}
	for i, c := range clients {
		if resp, _, err := get(t, c, "https://"+openai+"/", auth); err != nil || resp.StatusCode != 200 {
			t.Fatalf("replica %d before revocation: %v %v", i+1, resp, err)
		}
	}
	w.revoke(t, sb)
	revoked := time.Now()
	for i, c := range clients {
		for {
			resp, _, err := get(t, c, "https://"+openai+"/", auth)
			if err != nil || resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusProxyAuthRequired {
				break
			}
			if time.Since(revoked) > 5*time.Second+500*time.Millisecond {
				t.Fatalf("replica %d still forwards %s after the revocation", i+1, time.Since(revoked))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// A new connection is refused at its CONNECT.
	if _, _, err := get(t, w.client(t, p1, sb, up), "https://"+openai+"/", auth); err == nil || !strings.Contains(err.Error(), "Proxy Authentication Required") {
		t.Fatalf("new connection after revocation: %v", err)
	}
}

// Sandbox B presenting sandbox A's placeholder with B's credentials: 403
// and an alert naming both; with no credentials, or wrong ones: 407.
func TestForeignPlaceholderAndMissingCredentials(t *testing.T) {
	w := newWorld(t)
	user := testenv.RandID("u")
	id := w.secret(t, user, "OPENAI_API_KEY", "sk-proj-VALUE-foreign-0123456789")
	up := testenv.NewUpstream(t, openai, nil)
	p := w.startEgressd(t, []*testenv.Upstream{up}, nil)
	a := w.provision(t, user, map[string][]string{id: {openai}})
	b := w.provision(t, user, map[string][]string{id: {openai}})
	resp, body, err := get(t, w.client(t, p, b, up), "https://"+openai+"/", "Bearer "+a.placeholders[id].String())
	if err != nil || resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "another sandbox") {
		t.Fatalf("B with A's placeholder: %v %q %v", resp, body, err)
	}
	if len(up.Received()) != 0 {
		t.Fatal("the upstream received the refused request")
	}
	logs := p.logsWhen(func(l string) bool { return strings.Contains(l, `"alert":"foreign_sandbox"`) })
	if !strings.Contains(logs, `"alert":"foreign_sandbox"`) || !strings.Contains(logs, `"placeholder_sandbox_id":"`+a.id+`"`) || !strings.Contains(logs, `"sandbox_id":"`+b.id+`"`) {
		t.Fatalf("no foreign_sandbox alert naming both sandboxes:\n%s", logs)
	}
	auditAlerts(t, p.saveLogs(t), a.id, b.id, id)
	// The metric counts it, with no id as a label.
	mresp, metrics, err := get(t, &http.Client{Timeout: 5 * time.Second}, "http://"+p.admin+"/metrics", "")
	if err != nil || mresp.StatusCode != 200 || !strings.Contains(metrics, `egressd_alerts_total{kind="foreign_sandbox"} 1`) {
		t.Fatalf("metrics: %v\n%s", err, metrics)
	}
	for _, s := range []string{a.id, b.id, id, user} {
		if strings.Contains(metrics, s) {
			t.Fatalf("an id (%s) in /metrics", s)
		}
	}
	if r, _, err := get(t, &http.Client{Timeout: 5 * time.Second}, "http://"+p.admin+"/readyz", ""); err != nil || r.StatusCode != 200 {
		t.Fatalf("readyz: %v %v", r, err)
	}

	for name, sb := range map[string]*sandbox{"none": nil, "wrong": {id: a.id, pass: "wrong-password"}} {
		_, _, err := get(t, w.client(t, p, sb, up), "https://"+openai+"/", "")
		if err == nil || !strings.Contains(err.Error(), "Proxy Authentication Required") {
			t.Fatalf("%s credentials: %v, want 407", name, err)
		}
	}
}

// Plain HTTP: a placeholder anywhere is refused (nothing sent); without
// one the request is forwarded.
func TestPlainHTTPWithAPlaceholderIsRefused(t *testing.T) {
	w := newWorld(t)
	user := testenv.RandID("u")
	id := w.secret(t, user, "OPENAI_API_KEY", "sk-proj-VALUE-plain-0123456789")
	var hits atomic.Int32
	plainSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1); _, _ = io.WriteString(w, "plain ok") }))
	t.Cleanup(plainSrv.Close)
	up := testenv.NewUpstream(t, openai, nil)
	p := w.startEgressd(t, []*testenv.Upstream{up}, nil)
	sb := w.provision(t, user, map[string][]string{id: {openai}})
	c := w.client(t, p, sb)
	ph := sb.placeholders[id].String()
	for name, try := range map[string]func() (*http.Response, error){
		"header": func() (*http.Response, error) { r, _, err := get(t, c, plainSrv.URL+"/x", "Bearer "+ph); return r, err },
		"query":  func() (*http.Response, error) { r, _, err := get(t, c, plainSrv.URL+"/x?key="+ph, ""); return r, err },
		"body": func() (*http.Response, error) {
			return c.Post(plainSrv.URL+"/x", "text/plain", strings.NewReader("key="+ph))
		},
	} {
		resp, err := try()
		if err != nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("plain HTTP with a placeholder in the %s: %v %v", name, resp, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the plain server received %d requests carrying the placeholder", n)
	}
	if resp, body, err := get(t, c, plainSrv.URL+"/x", ""); err != nil || body != "plain ok" {
		t.Fatalf("plain HTTP without a placeholder: %v %q %v", resp, body, err)
	}
	if !strings.Contains(p.logsWhen(func(l string) bool { return strings.Contains(l, `"alert":"plain_http"`) }), `"alert":"plain_http"`) {
		t.Fatal("no plain_http alert")
	}
}

// A placeholder in a URL query or a request body of an intercepted
// request is never substituted, and raises an alert.
func TestPlaceholderInQueryOrBodyIsNotSubstituted(t *testing.T) {
	w := newWorld(t)
	user := testenv.RandID("u")
	const value = "sk-proj-VALUE-body-0123456789"
	id := w.secret(t, user, "OPENAI_API_KEY", value)
	var bodies []string
	up := testenv.NewUpstream(t, openai, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, r.URL.RawQuery+"|"+string(b))
	})
	p := w.startEgressd(t, []*testenv.Upstream{up}, nil)
	sb := w.provision(t, user, map[string][]string{id: {openai}})
	ph := sb.placeholders[id].String()
	c := w.client(t, p, sb, up)
	big := strings.Repeat("x", 100000) + " " + ph + `"` + strings.Repeat("y", 100000)
	resp, err := c.Post("https://"+openai+"/v1/chat/"+ph+"?key="+ph, "text/plain", strings.NewReader(big))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	resp.Body.Close()
	if len(bodies) != 1 || strings.Contains(bodies[0], value) || !strings.Contains(bodies[0], "key="+ph+"|") || !strings.Contains(bodies[0], ph+`"y`) {
		t.Fatal("the query or the body was substituted")
	}
	logs := p.logsWhen(func(l string) bool { return strings.Contains(l, `"alert":"placeholder_in_body"`) })
	if !strings.Contains(logs, `"alert":"placeholder_in_query"`) || !strings.Contains(logs, `"alert":"placeholder_in_body"`) {
		t.Fatalf("missing alerts:\n%s", logs)
	}
	if strings.Contains(logs, sb.placeholders[id].Token) || !strings.Contains(logs, `"path":"/v1/chat/sk-probph_[redacted]"`) {
		t.Fatalf("a placeholder in egressd's log (the path is logged without it):\n%s", logs)
	}
}

// An expired sandbox (its egress lifetime over) is refused like wrong
// credentials; an upstream whose certificate egressd cannot verify gets
// nothing (502).
func TestExpiredSandboxAndUnverifiedUpstream(t *testing.T) {
	w := newWorld(t)
	user := testenv.RandID("u")
	id := w.secret(t, user, "OPENAI_API_KEY", "sk-proj-VALUE-expired-0123456789")
	up := testenv.NewUpstream(t, openai, nil)
	rogue := testenv.NewUpstream(t, "api.anthropic.com", nil)
	// The rogue upstream is resolved but its CA is not among egressd's roots.
	p := w.startEgressd(t, []*testenv.Upstream{up}, map[string]string{"EGRESS_INTERCEPT": "all",
		"EGRESS_RESOLVE": openai + "=" + up.Addr() + ",api.anthropic.com=" + rogue.Addr()})
	sb := w.provision(t, user, map[string][]string{id: {openai}})
	resp, body, err := get(t, w.client(t, p, sb, up), "https://api.anthropic.com/", "")
	if err != nil || resp.StatusCode != http.StatusBadGateway || len(rogue.Received()) != 0 {
		t.Fatalf("unverified upstream: %v %q %v (it received %d)", resp, body, err, len(rogue.Received()))
	}
	rec := broker.SandboxEgress{SandboxID: sb.id, RuntimeID: sb.runtime, UserID: user, CredentialHash: broker.CredentialHash(sb.pass),
		Hosts: []string{openai}, ExpiresAt: time.Now().Add(-time.Second)}
	w.kvPut(t, layout.EgressSandboxPath(sb.id), rec)
	deadline := time.Now().Add(6 * time.Second)
	for {
		_, _, err := get(t, w.client(t, p, sb, up), "https://"+openai+"/", "")
		if err != nil && strings.Contains(err.Error(), "Proxy Authentication Required") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("expired sandbox still served: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
