package handlers

import (
	"net/http"
	"strings"
	"testing"
	"testing/fstest"
)

// TestConsoleRoutes: with Deps.Console set, /ui/ serves its files (index.html
// at the root) with the console's CSP and the API's headers, /ui redirects,
// anything else is the 404 envelope and no service is called; without it
// there is no /ui at all.
func TestConsoleRoutes(t *testing.T) {
	files := fstest.MapFS{
		"index.html":    {Data: []byte("<!doctype html><title>c</title>")},
		"app.js":        {Data: []byte("export {};")},
		"css/style.css": {Data: []byte("body{}")},
		".secret":       {Data: []byte("x")},
	}
	h := newHarness(t, Config{}, func(d *Deps) { d.Console = files })
	for path, ctype := range map[string]string{"/ui/": "text/html", "/ui/app.js": "text/javascript", "/ui/css/style.css": "text/css"} {
		rec := h.do(t, "GET", path, "", "X-API-Key", "")
		if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), ctype) {
			t.Errorf("GET %s: %d %q", path, rec.Code, rec.Header().Get("Content-Type"))
		}
		if got := rec.Header().Get("Content-Security-Policy"); got != consoleCSP {
			t.Errorf("GET %s: CSP %q", path, got)
		}
		if rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("X-Frame-Options") != "DENY" || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: headers %v", path, rec.Header())
		}
	}
	if rec := h.do(t, "GET", "/ui", "", "X-API-Key", ""); rec.Code != http.StatusMovedPermanently || rec.Header().Get("Location") != "/ui/" {
		t.Errorf("GET /ui: %d %q", rec.Code, rec.Header().Get("Location"))
	}
	for _, path := range []string{"/ui/nope.js", "/ui/css", "/ui/css/", "/ui/.secret", "/ui/../app.js", "/ui/css//style.css"} {
		rec := h.do(t, "GET", path, "", "X-API-Key", "")
		wantEnvelope(t, rec, http.StatusNotFound, "not_found")
		if rec.Header().Get("Content-Security-Policy") == consoleCSP {
			t.Errorf("GET %s: a 404 carries the console's CSP", path)
		}
	}
	if n := len(h.svc.Calls()); n != 0 {
		t.Fatalf("the console reached the service %d times", n)
	}

	off := newHarness(t, Config{})
	for _, path := range []string{"/ui/", "/ui", "/ui/app.js"} {
		wantEnvelope(t, off.do(t, "GET", path, "", "X-API-Key", ""), http.StatusNotFound, "not_found")
	}
}
