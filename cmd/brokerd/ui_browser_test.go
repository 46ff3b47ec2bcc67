package main

// Real-browser tests of the web console: Debian's chromium, headless, driven
// by chromedp against an in-process brokerd on the shared real Vault and
// Redis. Without chromium they skip (naming it), unless
// BROKER_REQUIRE_INTEGRATION=1. Screenshots go to a temporary directory, or
// with BROKER_UI_SCREENSHOTS=DIR (relative to the repository root, e.g.
// docs/ui) into DIR.

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/acme/secretsbroker/internal/repo"
	"github.com/acme/secretsbroker/internal/testenv"
)

// chromiumPath finds Debian's chromium.
func chromiumPath() string {
	for _, name := range []string{"chromium", "/usr/bin/chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browser is one headless chromium tab and what its console said.
type browser struct {
	t    *testing.T
	ctx  context.Context
	mu   sync.Mutex
	logs []chromedp.ConsoleMessage
	dir  string // screenshots
}

func startBrowser(t *testing.T) *browser {
	t.Helper()
	bin := chromiumPath()
	if bin == "" {
		const msg = "chromium not found (/usr/bin/chromium; apt-get install chromium): the console's browser tests need it"
		if testenv.RequireIntegration() {
			t.Fatal(msg + " and BROKER_REQUIRE_INTEGRATION=1")
		}
		t.Skip(msg)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1100, 760),
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	cctx, ccancel := chromedp.NewContext(actx)
	ctx, cancel := context.WithTimeout(cctx, 2*time.Minute)
	t.Cleanup(func() { cancel(); ccancel(); acancel() })
	b := &browser{t: t, ctx: ctx, dir: t.TempDir()}
	if d := os.Getenv("BROKER_UI_SCREENSHOTS"); d != "" {
		if !filepath.IsAbs(d) {
			root, err := repo.Root()
			if err != nil {
				t.Fatal(err)
			}
			d = filepath.Join(root, d)
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		b.dir = d
	}
	msgs := chromedp.Console(ctx) // subscribes now: nothing the pages say is lost
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.logs = append(b.logs, m)
			b.mu.Unlock()
		}
	}()
	return b
}

// do runs actions, failing the test with what for context.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v\nconsole: %v", what, err, b.console())
	}
}

// wait polls a JavaScript predicate until it is truthy.
func (b *browser) wait(what, expr string) {
	b.t.Helper()
	b.do(what, chromedp.Action[chromedp.Void](func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(10*time.Second))(ctx, t)
		return chromedp.Void{}, err
	}))
}

// eval evaluates a JavaScript expression whose value is a string.
func (b *browser) eval(expr string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.t.Fatalf("eval %s: %v", expr, err)
	}
	return s
}

func (b *browser) console() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]string, 0, len(b.logs))
	for _, m := range b.logs {
		out = append(out, string(m.Type)+": "+m.Text)
	}
	return out
}

// screenshot writes name.png (the whole page).
func (b *browser) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// click clicks the first element matching a CSS selector.
func click(sel string) chromedp.Action[chromedp.Void] { return chromedp.Click(chromedp.CSS(sel)) }

// typeInto types text into the element matching a CSS selector.
func typeInto(sel, text string) chromedp.Action[chromedp.Void] {
	return chromedp.SendKeys(chromedp.CSS(sel), text)
}

// js quotes s as a JavaScript string literal.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// everywhere is a JavaScript expression that is the page's DOM (outer HTML
// plus the live values of every control), its storage, and the source the
// server sent for the page, joined: what must never hold a value.
const everywhere = `(async () => {
  const parts = [document.documentElement.outerHTML];
  for (const el of document.querySelectorAll('input, select, textarea')) parts.push(el.value);
  for (const s of [sessionStorage, localStorage]) for (let i = 0; i < s.length; i++) parts.push(s.key(i), s.getItem(s.key(i)));
  for (const f of ['', 'app.js', 'api.js', 'dom.js', 'secrets.js', 'signin.js', 'runtimes.js']) parts.push(await (await fetch('/ui/' + f, {cache: 'no-store'})).text());
  return parts.join('\n');
})()`

func (b *browser) mustNotHold(what string, secrets ...string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	all, err := chromedp.Run(ctx, chromedp.Evaluate[string](everywhere, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("read the page: %v", err)
	}
	if len(all) < 500 {
		b.t.Fatalf("read only %d bytes of the page", len(all))
	}
	for _, s := range secrets {
		if strings.Contains(all, s) {
			b.t.Fatalf("%s: the page (DOM, a control, storage or source) holds a secret", what)
		}
	}
}

// labelled checks that every control of the page has an accessible name.
func (b *browser) labelled(page string) {
	b.t.Helper()
	bad := b.eval(`[...document.querySelectorAll('input, select, button, a[href]')].filter(el => {
	  if (el.closest('[hidden]')) return false;
	  if (el.matches('input, select')) return !(el.labels && el.labels.length) && !el.closest('label') && !el.getAttribute('aria-label');
	  return !(el.getAttribute('aria-label') || el.textContent.trim());
	}).map(el => el.outerHTML.slice(0, 80)).join(' | ')`)
	if bad != "" {
		b.t.Errorf("%s: controls without a label: %s", page, bad)
	}
}

// TestUIBrowser drives the console in chromium: a wrong key stays on
// sign-in with the error at the field; sign in (keyboard only); create from
// a preset; the masked value shown and the plaintext nowhere (DOM, controls,
// page source, sessionStorage, localStorage); a validation error at its
// field; rotate; versions; rollback; runtimes; delete (confirm by typing the
// name); a 401 returns to sign-in; sign-out forgets the key; readable at 375
// px; no CSP violation or script error on the way.
func TestUIBrowser(t *testing.T) {
	b := startBrowser(t)
	start := time.Now()
	e := newAPIEnv(t)
	bk := e.broker(true, nil)
	_, key := e.user("ui")
	api := e.client(bk, key)
	ui := bk.URL + "/ui/"

	// Wrong key: refused at the field, nothing stored.
	b.do("open the console", chromedp.Navigate(ui), chromedp.WaitVisible(chromedp.CSS("#signin-api_key")))
	b.labelled("sign-in")
	b.screenshot("sign-in")
	b.do("wrong key", typeInto("#signin-api_key", "sbk_wrong_0123456789abcdef0123456789"+kb.Enter))
	b.wait("wrong key error at its field", `document.querySelector('#signin-api_key-error').textContent.includes('refused')`)
	if got := b.eval(`String(sessionStorage.length) + document.querySelector('#signin-api_key').getAttribute('aria-invalid')`); got != "0true" {
		t.Fatalf("after a wrong key: sessionStorage entries + aria-invalid = %q", got)
	}

	// Sign in with the keyboard only: the field has focus, Enter submits.
	if got := b.eval(`document.activeElement.id`); got != "signin-api_key" {
		t.Fatalf("focus on %q, want the API key field", got)
	}
	b.do("sign in", chromedp.SendKeys(chromedp.CSS("#signin-api_key"), key+kb.Enter))
	b.wait("secrets page", `document.querySelector('h1')?.textContent === 'Secrets' && !!document.querySelector('.card p.muted')`)
	if got := b.eval(`sessionStorage.getItem('broker.apiKey') === ` + js(key) + ` ? 'ok' : 'no'`); got != "ok" {
		t.Fatal("the API key is not in sessionStorage after sign-in")
	}
	if got := b.eval(`String(localStorage.length) + ':' + document.cookie`); got != "0:" {
		t.Fatalf("localStorage / cookies after sign-in: %q", got)
	}

	// Create from a preset (openai).
	v1 := value("sk-ui-first")
	b.do("new secret", click(`a[href="#/secrets/new"]`), chromedp.WaitVisible(chromedp.CSS("#create-value")))
	b.wait("presets listed", `document.querySelectorAll('#create-provider option').length >= 3`)
	if got := b.eval(`document.querySelector('#create-provider option[value="openai"]').textContent`); !strings.Contains(got, "OPENAI_API_KEY") || !strings.Contains(got, "not configured") {
		t.Fatalf("preset option %q", got)
	}
	b.labelled("create")
	b.screenshot("create")
	b.do("create from preset", chromedp.SetValue(chromedp.CSS("#create-provider"), "openai"), typeInto("#create-value", v1), click(`form button[type="submit"]`))
	b.wait("secret listed", `!!document.querySelector('tr[data-secret="OPENAI_API_KEY"]')`)
	l := decodeObj(t, api.do("GET", "/api/v1/user/secrets", nil))
	sec := arr(t, l, "secrets")[0].(map[string]any)
	masked := sec["masked_value"].(string)
	if got := b.eval(`document.querySelector('tr[data-secret="OPENAI_API_KEY"] .masked').textContent`); got != masked {
		t.Fatalf("masked value shown %q, API's %q", got, masked)
	}
	b.mustNotHold("after create", v1)
	if got := b.eval(`[document.documentElement.outerHTML, ...[...document.querySelectorAll('input')].map(i => i.value)].join('\n').includes(` + js(key) + `) ? 'shown' : 'no'`); got != "no" {
		t.Fatal("the API key is in the DOM")
	}

	// A validation error is shown at its field, and the value is gone.
	b.do("invalid name", click(`a[href="#/secrets/new"]`), chromedp.WaitVisible(chromedp.CSS("#create-value")),
		click(`input[name="mode"][value="custom"]`), typeInto("#create-name", "1BAD-NAME"), typeInto("#create-value", value("sk-ui-invalid")),
		click(`form button[type="submit"]`))
	b.wait("name error at its field", `document.querySelector('#create-name-error').textContent.length > 0`)
	if got := b.eval(`document.querySelector('#create-name').getAttribute('aria-invalid') + ':' + document.querySelector('#create-value').value`); got != "true:" {
		t.Fatalf("after the validation error: aria-invalid:value = %q", got)
	}
	// A taken name (another letter case): 409 shown at the name.
	b.do("taken name", chromedp.Evaluate[chromedp.Void](`document.querySelector('#create-name').value = ''`), typeInto("#create-name", "openai_api_key"),
		typeInto("#create-value", value("sk-ui-taken")), click(`form button[type="submit"]`))
	b.wait("conflict at the name", `document.querySelector('#create-name-error').textContent.includes('already exists')`)

	// A few more secrets and a runtime, through the API, for the pages.
	for _, n := range []string{"ANTHROPIC_API_KEY", "DATABASE_URL"} {
		wantStatus(t, api.do("POST", "/api/v1/user/secrets", map[string]any{"name": n, "value": value("sk-ui-other")}), 201)
	}
	rt := decodeObj(t, api.do("POST", "/api/v1/runtimes", map[string]any{"project_id": "demo", "name": "notebook", "secret_ids": []string{sec["id"].(string)}}))
	token := str(t, obj(t, obj(t, rt, "sandbox"), "bootstrap"), "token")

	// Rotate.
	v2 := value("sk-ui-second")
	b.do("secrets", click(`a[href="#/secrets"]`))
	b.wait("rows", `document.querySelectorAll('tbody tr').length === 3`)
	b.screenshot("secrets")
	b.labelled("secrets")
	b.do("rotate", click(`tr[data-secret="OPENAI_API_KEY"] button[data-action="rotate"]`), chromedp.WaitVisible(chromedp.CSS("#rotate-value")),
		typeInto("#rotate-value", v2), click(`dialog button[type="submit"]`))
	b.wait("version 2", `document.querySelector('tr[data-secret="OPENAI_API_KEY"] td[data-label="Version"]')?.textContent === '2' && !document.querySelector('dialog')`)
	b.mustNotHold("after rotate", v1, v2)

	// Versions and rollback to version 1.
	b.do("versions", click(`tr[data-secret="OPENAI_API_KEY"] a[href$="/versions"]`))
	b.wait("versions listed", `document.querySelectorAll('tr[data-version]').length === 2`)
	b.screenshot("versions")
	b.labelled("versions")
	b.do("rollback", click(`button[data-rollback="1"]`))
	b.wait("version 3 current", `document.querySelector('tr[data-version="3"] td[data-label="State"]')?.textContent === 'current'`)
	if got := b.eval(`document.querySelector('tr[data-version="3"] .masked').textContent === document.querySelector('tr[data-version="1"] .masked').textContent ? 'same' : 'differ'`); got != "same" {
		t.Fatal("after rollback to 1, version 3's masked value is not version 1's")
	}

	// Runtimes: listed, never a token.
	b.do("runtimes", click(`a[href="#/runtimes"]`))
	b.wait("runtime listed", `document.querySelectorAll('tbody tr').length === 1 && document.querySelector('tbody').textContent.includes('OPENAI_API_KEY')`)
	b.screenshot("runtimes")
	b.labelled("runtimes")
	b.mustNotHold("runtimes", token, v1, v2)

	// Delete: the button stays disabled until the name is typed.
	b.do("secrets again", click(`a[href="#/secrets"]`))
	b.wait("rows", `document.querySelectorAll('tbody tr').length === 3`)
	b.do("delete dialog", click(`tr[data-secret="DATABASE_URL"] button[data-action="delete"]`), chromedp.WaitVisible(chromedp.CSS("#delete-confirm")),
		typeInto("#delete-confirm", "DATABASE_UR"))
	if got := b.eval(`String(document.querySelector('dialog button[type="submit"]').disabled)`); got != "true" {
		t.Fatal("delete is enabled before the whole name is typed")
	}
	b.do("confirm delete", typeInto("#delete-confirm", "L"), click(`dialog button[type="submit"]`))
	b.wait("row gone", `document.querySelectorAll('tbody tr').length === 2 && !document.querySelector('tr[data-secret="DATABASE_URL"]')`)

	// 375 px wide: no horizontal scrolling, the table as cards.
	b.do("narrow", chromedp.EmulateViewport(375, 740))
	b.wait("narrow layout", `document.documentElement.scrollWidth <= 375 && getComputedStyle(document.querySelector('tbody tr')).display === 'block'`)
	b.screenshot("secrets-375px")
	b.do("wide", chromedp.EmulateViewport(1100, 760))

	// A key that stops working (revoked meanwhile) returns to sign-in.
	b.do("stale key", chromedp.Evaluate[chromedp.Void](`sessionStorage.setItem('broker.apiKey', 'sbk_revoked_0123456789abcdef012345')`), click(`a[href="#/runtimes"]`))
	b.wait("back at sign-in", `!!document.querySelector('#signin-api_key') && document.querySelector('.notice')?.textContent.includes('refused') && sessionStorage.length === 0`)

	// Sign in again, sign out: the key is gone.
	b.do("sign in again", typeInto("#signin-api_key", key+kb.Enter))
	b.wait("signed in", `document.querySelector('h1')?.textContent === 'Secrets'`)
	b.do("sign out", click("#signout"))
	b.wait("signed out", `!!document.querySelector('#signin-api_key') && sessionStorage.length === 0`)

	for _, m := range b.console() {
		if strings.Contains(m, "Content Security Policy") || strings.HasPrefix(m, "exception") {
			t.Errorf("browser console: %s", m)
		}
	}
	t.Logf("console browser test: %s (screenshots in %s)", time.Since(start).Round(time.Millisecond), b.dir)
}
