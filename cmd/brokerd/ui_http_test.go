package main

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// inlineCode finds inline script, style or event handlers in HTML.
var inlineCode = regexp.MustCompile(`<script>|<script [^>]*>[^<]|<style|\sstyle=|\son[a-z]+=|javascript:`)

// TestUIServed: /ui/ serves the embedded console with a strict CSP (no
// inline script or style, no framing), the API's security headers and
// no-store; ES modules as JavaScript; /ui redirects to /ui/; anything else
// under /ui/ is the 404 envelope; BROKER_UI=false serves no console at all.
func TestUIServed(t *testing.T) {
	e := newAPIEnv(t)
	on, off := e.broker(false, nil), e.broker(false, map[string]string{"BROKER_UI": "false"})
	hc := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(url string) (*http.Response, string) {
		t.Helper()
		r, err := hc.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return r, string(b)
	}

	r, body := get(on.URL + "/ui/")
	if r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, `<script type="module" src="app.js">`) {
		t.Fatalf("/ui/: %d %s\n%s", r.StatusCode, r.Header.Get("Content-Type"), body)
	}
	csp := r.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'", "object-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %s", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "http") {
		t.Errorf("CSP %q allows inline code, eval or another origin", csp)
	}
	for k, want := range map[string]string{"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("/ui/ %s = %q, want %q", k, got, want)
		}
	}
	// No inline script or style anywhere in the page.
	if bad := inlineCode.FindString(body); bad != "" {
		t.Errorf("index.html holds inline code: %q", bad)
	}
	for path, ctype := range map[string]string{"app.js": "text/javascript", "secrets.js": "text/javascript", "style.css": "text/css", "favicon.svg": "image/svg+xml"} {
		r, _ := get(on.URL + "/ui/" + path)
		if r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), ctype) || r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("/ui/%s: %d %q %q", path, r.StatusCode, r.Header.Get("Content-Type"), r.Header.Get("Cache-Control"))
		}
	}
	if r, _ := get(on.URL + "/ui"); r.StatusCode != http.StatusMovedPermanently || r.Header.Get("Location") != "/ui/" {
		t.Errorf("/ui: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	for _, p := range []string{"/ui/nope.js", "/ui/../go.mod", "/ui/%2e%2e/go.mod", "/ui/.hidden", "/ui/assets/index.html"} {
		r, body := get(on.URL + p)
		if r.StatusCode != 404 || !strings.Contains(body, `"type":"not_found"`) {
			t.Errorf("%s: %d %s", p, r.StatusCode, body)
		}
	}
	for _, p := range []string{"/ui/", "/ui", "/ui/app.js"} {
		if r, _ := get(off.URL + p); r.StatusCode != 404 {
			t.Errorf("BROKER_UI=false: %s answers %d", p, r.StatusCode)
		}
	}
}
