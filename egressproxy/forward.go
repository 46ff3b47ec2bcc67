package egressproxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"sync"
	"time"

	"github.com/acme/secretsbroker/broker"
)

// forwardState is one forwarded request's state, shared with the reverse
// proxy's hooks through the request's context.
type forwardState struct {
	scheme, hostport string // upstream ("" for a plain request: its own URL)
	pairs            []pair
	pairSecrets      []string // secret id of each pair
	onBody           error    // set when a plain request's body held a placeholder

	mu    sync.Mutex
	hits  []int // reflection hits per pair
	upErr error
}

type forwardKey struct{}

func stateOf(ctx context.Context) *forwardState {
	st, _ := ctx.Value(forwardKey{}).(*forwardState)
	return st
}

func rewrite(pr *httputil.ProxyRequest) {
	st := stateOf(pr.In.Context())
	if st != nil && st.hostport != "" {
		pr.Out.URL.Scheme = st.scheme
		pr.Out.URL.Host = st.hostport
	}
	pr.Out.Host = pr.In.Host
}

// modifyResponse puts the reflection scanner on a substituted request's
// answer: headers now, the body as it streams.
func (p *Proxy) modifyResponse(resp *http.Response) error {
	st := stateOf(resp.Request.Context())
	if st == nil || len(st.pairs) == 0 {
		return nil
	}
	hits := make([]int, len(st.pairs))
	for name, vs := range resp.Header {
		for i, v := range vs {
			out, _ := redact([]byte(v), st.pairs, true, hits)
			resp.Header[name][i] = string(out)
		}
	}
	st.addHits(hits)
	switch {
	case resp.Body == nil || resp.Body == http.NoBody:
	case resp.ContentLength >= 0 && resp.ContentLength <= wholeBodyMax:
		// A body of known, modest length is read whole, redacted and sent
		// with its new length (no chunking for what was not chunked).
		b, err := io.ReadAll(io.LimitReader(resp.Body, wholeBodyMax+1))
		resp.Body.Close()
		if err != nil {
			return err
		}
		h := make([]int, len(st.pairs))
		out, _ := redact(b, st.pairs, true, h)
		st.addHits(h)
		resp.Body = io.NopCloser(bytes.NewReader(out))
		resp.ContentLength = int64(len(out))
		resp.Header.Set("Content-Length", strconv.Itoa(len(out)))
	default:
		resp.Header.Del("Content-Length")
		resp.ContentLength = -1
		resp.Body = newRedactor(resp.Body, st.pairs, st.addHits)
	}
	return nil
}

// wholeBodyMax is the largest answer with a Content-Length that is
// redacted whole; a larger or chunked one streams through the redactor.
const wholeBodyMax = 256 << 10

func (st *forwardState) addHits(h []int) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.hits == nil {
		st.hits = make([]int, len(st.pairs))
	}
	for i, n := range h {
		st.hits[i] += n
	}
}

func (st *forwardState) reflected() []int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return append([]int(nil), st.hits...)
}

func (p *Proxy) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	st := stateOf(r.Context())
	if st != nil {
		st.mu.Lock()
		st.upErr = err
		st.mu.Unlock()
		if st.onBody != nil && errors.Is(err, errPlainBodyPlaceholder) {
			refuse(w, http.StatusForbidden, "a placeholder may not travel over plain HTTP (use https)")
			return
		}
	}
	if errors.Is(err, context.Canceled) {
		return // the sandbox went away
	}
	refuse(w, http.StatusBadGateway, "the upstream could not be reached or failed")
}

// serveIntercepted handles one request read from an intercepted
// connection: checks, substitution, forwarding, reflection scanning.
func (p *Proxy) serveIntercepted(w http.ResponseWriter, r *http.Request) {
	started := time.Now()
	ci, _ := r.Context().Value(connInfoKey{}).(connInfo)
	ri := &reqInfo{id: newRequestID(), method: r.Method, kind: "intercepted", host: ci.host, path: logSafe(r.URL.Path)}
	sb, fail := p.authenticate(r.Context(), ci.sandboxID, ci.pass)
	if fail != nil {
		ri.sandbox.SandboxID = ci.sandboxID
		// The connection's credentials are gone: say so on this one
		// request and close, so that the next CONNECT asks again.
		w.Header().Set("Connection", "close")
		status := fail.status
		if status == http.StatusProxyAuthRequired {
			status = http.StatusForbidden // a 407 inside TLS means nothing to a client
		}
		refuse(w, status, fail.reason)
		p.logRequest(ri, status, 0, outcomeOf(fail.status), started, fail.reason)
		return
	}
	ri.sandbox = sb
	if h := hostOnly(r.Host); h != "" && h != ci.host {
		reason := "the Host header differs from the CONNECT target"
		refuse(w, http.StatusForbidden, reason)
		p.logRequest(ri, http.StatusForbidden, 0, "refused", started, reason)
		return
	}
	var findings []finding
	for _, tok := range tokensIn(nil, r.URL.RequestURI()) {
		findings = append(findings, p.tokenAlert(r.Context(), sb, tok, AlertQuery))
	}
	subs, refusal := p.resolveHeaderTokens(r.Context(), sb, ci.host, r.Header)
	if refusal != nil {
		findings = append(findings, refusal.findings...)
		refuse(w, refusal.status, refusal.reason)
		p.emit(ri, findings, refusal.status, 0)
		p.logRequest(ri, refusal.status, 0, outcomeOf(refusal.status), started, refusal.reason)
		return
	}
	used, unprefixed := substituteHeaders(r.Header, subs)
	for _, tok := range unprefixed {
		f := p.tokenAlert(r.Context(), sb, tok, AlertPrefixMismatch)
		findings = append(findings, f)
	}
	st := &forwardState{scheme: "https", hostport: net.JoinHostPort(ci.host, ci.port)}
	for _, tok := range used {
		s := subs[tok]
		st.pairs = append(st.pairs, pair{value: []byte(s.value), placeholder: []byte(s.prefix + tok)})
		st.pairSecrets = append(st.pairSecrets, s.secretID)
		findings = append(findings, finding{secretID: s.secretID})
	}
	if len(used) > 0 {
		r.Header.Del("Accept-Encoding") // an uncompressed answer can be scanned
	}
	var scan *tokenScanner
	if r.Body != nil && r.Body != http.NoBody {
		scan = &tokenScanner{}
		r.Body = &teeBody{ReadCloser: r.Body, w: scan}
	}
	cw := &countingWriter{ResponseWriter: w}
	p.rp.ServeHTTP(cw, r.WithContext(context.WithValue(r.Context(), forwardKey{}, st)))
	if scan != nil {
		scan.Finish()
		for _, tok := range scan.Tokens() {
			findings = append(findings, p.tokenAlert(r.Context(), sb, tok, AlertBody))
		}
	}
	for i, n := range st.reflected() {
		if n > 0 {
			findings = append(findings, finding{alert: AlertReflection, secretID: st.pairSecrets[i], detail: strconv.Itoa(n) + " occurrence(s) replaced"})
		}
	}
	status := cw.code()
	p.emit(ri, findings, status, cw.bytes)
	p.logRequest(ri, status, cw.bytes, outcomeOf(status), started, "")
}

// refusal is a request refused before anything was sent.
type refusal struct {
	status   int
	reason   string
	findings []finding
}

// resolveHeaderTokens reads the record and value of each placeholder token
// in the headers. A token of another sandbox, or towards a host outside its
// secret's hosts, refuses the request. Unknown tokens are left as they are.
func (p *Proxy) resolveHeaderTokens(ctx context.Context, sb broker.SandboxEgress, host string, h http.Header) (map[string]sub, *refusal) {
	toks := headerTokens(h)
	if len(toks) == 0 {
		return nil, nil
	}
	lctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	subs := make(map[string]sub, len(toks))
	for _, tok := range toks {
		rec, err := p.src.EgressPlaceholder(lctx, broker.TokenHash(tok))
		switch {
		case broker.IsCode(err, broker.CodeNotFound) || broker.IsCode(err, broker.CodeInvalid):
			continue
		case err != nil:
			p.metrics.lookups.WithLabelValues("placeholder").Inc()
			p.log.Error().Err(err).Msg("placeholder record unreadable")
			return nil, &refusal{status: http.StatusServiceUnavailable, reason: "cannot read placeholder records now (Vault unavailable)"}
		}
		if rec.SandboxID != sb.SandboxID || rec.UserID != sb.UserID {
			return nil, &refusal{status: http.StatusForbidden, reason: "this placeholder belongs to another sandbox",
				findings: []finding{{alert: AlertForeignSandbox, secretID: rec.SecretID, userID: rec.UserID, ownerSandbox: rec.SandboxID}}}
		}
		if !broker.EgressHostAllowed(rec.Hosts, host) {
			return nil, &refusal{status: http.StatusForbidden, reason: "this placeholder may not be sent to " + host,
				findings: []finding{{alert: AlertWrongHost, secretID: rec.SecretID}}}
		}
		val, err := p.src.CurrentValue(lctx, rec.UserID, rec.SecretID)
		switch {
		case broker.IsCode(err, broker.CodeNotFound) || broker.IsCode(err, broker.CodeForbidden):
			return nil, &refusal{status: http.StatusForbidden, reason: "the secret behind this placeholder no longer exists"}
		case err != nil:
			p.metrics.lookups.WithLabelValues("value").Inc()
			p.log.Error().Err(err).Str("secret_id", rec.SecretID).Msg("secret value unreadable")
			return nil, &refusal{status: http.StatusServiceUnavailable, reason: "cannot read the secret now (Vault unavailable)"}
		case !validHeaderValue(val):
			return nil, &refusal{status: http.StatusForbidden, reason: "the secret's value cannot be sent in a header (control characters)"}
		}
		subs[tok] = sub{prefix: rec.Prefix, value: val, secretID: rec.SecretID}
	}
	return subs, nil
}

// tokenAlert is the alert of a token found where it is not substituted,
// naming its secret (and its own sandbox when it is another) when its
// record is known.
func (p *Proxy) tokenAlert(ctx context.Context, sb broker.SandboxEgress, tok, kind string) finding {
	f := finding{alert: kind}
	lctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	rec, err := p.src.EgressPlaceholder(lctx, broker.TokenHash(tok))
	if err != nil {
		f.detail = "placeholder unknown"
		return f
	}
	f.secretID = rec.SecretID
	if rec.SandboxID != sb.SandboxID {
		f.ownerSandbox, f.userID = rec.SandboxID, rec.UserID
	}
	return f
}

// errPlainBodyPlaceholder aborts a plain-HTTP request whose body holds a
// placeholder.
var errPlainBodyPlaceholder = errors.New("placeholder in a plain-HTTP body")

// plain forwards an absolute-URI (plain HTTP) request; one carrying a
// placeholder is refused.
func (p *Proxy) plain(w http.ResponseWriter, r *http.Request, ri *reqInfo, started time.Time) {
	if !p.hostAllowedUnderDeny(ri.sandbox, ri.host) {
		reason := "host not allowed for this sandbox (EGRESS_DEFAULT_DENY)"
		refuse(w, http.StatusForbidden, reason)
		p.logRequest(ri, http.StatusForbidden, 0, "refused", started, reason)
		return
	}
	toks := dedupe(append(tokensIn(nil, r.URL.String()), headerTokens(r.Header)...))
	if len(toks) > 0 {
		var fs []finding
		for _, tok := range toks {
			fs = append(fs, p.tokenAlert(r.Context(), ri.sandbox, tok, AlertPlainHTTP))
		}
		reason := "a placeholder may not travel over plain HTTP (use https)"
		refuse(w, http.StatusForbidden, reason)
		p.emit(ri, fs, http.StatusForbidden, 0)
		p.logRequest(ri, http.StatusForbidden, 0, "refused", started, reason)
		return
	}
	st := &forwardState{}
	var scan *tokenScanner
	if r.Body != nil && r.Body != http.NoBody {
		// A body of up to plainBodyBuffer is read whole and scanned before
		// anything is sent; a longer one streams, and a placeholder found
		// in it aborts the upstream request mid-body.
		scan = &tokenScanner{}
		head, err := io.ReadAll(io.LimitReader(r.Body, plainBodyBuffer+1))
		if err != nil {
			refuse(w, http.StatusBadRequest, "cannot read the request body")
			p.logRequest(ri, http.StatusBadRequest, 0, "refused", started, "body unreadable")
			return
		}
		_, _ = scan.Write(head)
		if len(head) <= plainBodyBuffer {
			scan.Finish()
		}
		if toks := scan.Tokens(); len(toks) > 0 {
			var fs []finding
			for _, tok := range toks {
				fs = append(fs, p.tokenAlert(r.Context(), ri.sandbox, tok, AlertPlainHTTP))
			}
			reason := "a placeholder may not travel over plain HTTP (use https)"
			refuse(w, http.StatusForbidden, reason)
			p.emit(ri, fs, http.StatusForbidden, 0)
			p.logRequest(ri, http.StatusForbidden, 0, "refused", started, reason)
			return
		}
		st.onBody = errPlainBodyPlaceholder
		r.Body = &teeBody{ReadCloser: readCloser{io.MultiReader(bytes.NewReader(head), r.Body), r.Body}, w: scan, abort: true, skip: int64(len(head))}
	}
	cw := &countingWriter{ResponseWriter: w}
	p.rp.ServeHTTP(cw, r.WithContext(context.WithValue(r.Context(), forwardKey{}, st)))
	var fs []finding
	if scan != nil {
		scan.Finish()
		for _, tok := range scan.Tokens() {
			fs = append(fs, p.tokenAlert(r.Context(), ri.sandbox, tok, AlertPlainHTTP))
		}
	}
	status := cw.code()
	p.emit(ri, fs, status, cw.bytes)
	p.logRequest(ri, status, cw.bytes, outcomeOf(status), started, "")
}

// teeBody passes a request body on while scanning it for placeholders;
// with abort, a placeholder found ends the body with an error (the upstream
// request fails instead of completing).
type teeBody struct {
	io.ReadCloser
	w     *tokenScanner
	abort bool
	skip  int64 // bytes at the start already scanned
}

// plainBodyBuffer is how much of a plain-HTTP body is read and scanned
// before the request is sent.
const plainBodyBuffer = 1 << 20

type readCloser struct {
	io.Reader
	io.Closer
}

func (t *teeBody) Read(b []byte) (int, error) {
	n, err := t.ReadCloser.Read(b)
	if n > 0 {
		data := b[:n]
		if t.skip > 0 {
			k := min(int64(len(data)), t.skip)
			data, t.skip = data[k:], t.skip-k
		}
		_, _ = t.w.Write(data)
	}
	if errors.Is(err, io.EOF) {
		t.w.Finish()
	}
	if t.abort && len(t.w.Tokens()) > 0 {
		return 0, errPlainBodyPlaceholder
	}
	return n, err
}

// countingWriter records the status and counts the body bytes sent to the
// sandbox; it passes flushes (and hijacks, through Unwrap) on.
type countingWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (c *countingWriter) WriteHeader(code int) {
	if c.status == 0 && code >= 200 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *countingWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	n, err := c.ResponseWriter.Write(b)
	c.bytes += int64(n)
	return n, err
}

func (c *countingWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func (c *countingWriter) code() int {
	if c.status == 0 {
		return http.StatusBadGateway
	}
	return c.status
}
