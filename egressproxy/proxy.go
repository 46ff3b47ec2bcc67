package egressproxy

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/acme/secretsbroker/broker"
)

// Intercept modes (EGRESS_INTERCEPT).
const (
	InterceptPlaceholders = "placeholders" // only hosts of the sandbox's own secrets
	InterceptAll          = "all"          // every CONNECT
)

// Timeouts of the proxy's own work.
const (
	lookupTimeout         = 10 * time.Second
	dialTimeout           = 10 * time.Second
	handshakeTimeout      = 10 * time.Second
	responseHeaderTimeout = 5 * time.Minute // a model may think long before its first byte
	innerIdleTimeout      = 120 * time.Second
)

// Config is a Proxy's settings and dependencies.
type Config struct {
	Source      Source // records and values (a Cache in production)
	CA          *CA    // the interception CA
	Intercept   string // InterceptPlaceholders (default) or InterceptAll
	DefaultDeny bool   // refuse CONNECTs and plain requests to hosts outside the sandbox's hosts and AllowHosts
	AllowHosts  []string
	// Resolve maps a host name (lower case) to the address dialled instead
	// of it (ip:port), for tunnels and intercepted requests alike.
	Resolve map[string]string
	// UpstreamRoots verifies upstream certificates (nil: the system roots).
	UpstreamRoots *x509.CertPool
	Metrics       *Metrics
	Log           zerolog.Logger
	Now           func() time.Time
}

// Proxy is the forward proxy: an http.Handler for the listener sandboxes
// connect to. Close stops its intercepted connections and tunnels.
type Proxy struct {
	cfg     Config
	src     Source
	log     zerolog.Logger
	metrics *Metrics
	dialer  *net.Dialer

	transport *http.Transport
	rp        *httputil.ReverseProxy
	inner     *http.Server
	innerLn   *chanListener

	ctx     context.Context // cancelled by Close: ends tunnels
	cancel  context.CancelFunc
	tunnels sync.WaitGroup
}

// New returns a Proxy and starts the server of its intercepted connections.
// Errors: invalid (no source, CA or metrics; unknown intercept mode).
func New(cfg Config) (*Proxy, error) {
	switch {
	case cfg.Source == nil || cfg.CA == nil || cfg.Metrics == nil:
		return nil, broker.Errorf(broker.CodeInvalid, "egressproxy: a source, a CA and metrics are required")
	case cfg.Intercept == "":
		cfg.Intercept = InterceptPlaceholders
	case cfg.Intercept != InterceptPlaceholders && cfg.Intercept != InterceptAll:
		return nil, broker.Errorf(broker.CodeInvalid, "egressproxy: intercept mode %q: want placeholders or all", cfg.Intercept)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p := &Proxy{cfg: cfg, src: cfg.Source, log: cfg.Log, metrics: cfg.Metrics,
		dialer: &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.transport = &http.Transport{
		Proxy:                 nil, // never egressd's own HTTPS_PROXY
		DialContext:           p.dial,
		TLSClientConfig:       &tls.Config{RootCAs: cfg.UpstreamRoots, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   handshakeTimeout,
		ResponseHeaderTimeout: responseHeaderTimeout,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   128,
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        rewrite,
		Transport:      p.transport,
		FlushInterval:  -1, // flush every write: server-sent events stream
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.upstreamError,
		BufferPool:     newBufferPool(),
		ErrorLog:       log.New(io.Discard, "", 0),
	}
	p.innerLn = newChanListener()
	p.inner = &http.Server{
		Handler:           http.HandlerFunc(p.serveIntercepted),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       innerIdleTimeout,
		MaxHeaderBytes:    1 << 20,
		ConnContext:       connContext,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go func() { _ = p.inner.Serve(p.innerLn) }()
	return p, nil
}

// Close stops accepting intercepted connections, ends open tunnels, and
// waits (at most until ctx ends) for in-flight intercepted requests.
func (p *Proxy) Close(ctx context.Context) error {
	p.innerLn.Close()
	err := p.inner.Shutdown(ctx)
	p.cancel()
	done := make(chan struct{})
	go func() { p.tunnels.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	p.transport.CloseIdleConnections()
	return err
}

func (p *Proxy) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		if to, ok := p.cfg.Resolve[strings.ToLower(strings.TrimSuffix(host, "."))]; ok {
			addr = to
		}
	}
	return p.dialer.DialContext(ctx, network, addr)
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// refuse answers a refusal: status and a one-line plain-text reason.
func refuse(w http.ResponseWriter, status int, reason string) {
	h := w.Header()
	if status == http.StatusProxyAuthRequired {
		h.Set("Proxy-Authenticate", `Basic realm="egressd"`)
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, "egressd: "+reason+"\n")
}

// proxyCredentials returns the sandbox id and password of a request's
// Proxy-Authorization: Basic header.
func proxyCredentials(r *http.Request) (user, pass string, ok bool) {
	scheme, cred, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Proxy-Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return "", "", false
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return "", "", false
	}
	user, pass, ok = strings.Cut(string(b), ":")
	return user, pass, ok && user != "" && pass != ""
}

// authFailure is why a sandbox's credentials are not accepted.
type authFailure struct {
	status int
	reason string
}

// authenticate checks a sandbox's proxy credentials against its record
// (credential hash compared in constant time; an expired or absent record
// is refused like a wrong password).
func (p *Proxy) authenticate(ctx context.Context, sandboxID, pass string) (broker.SandboxEgress, *authFailure) {
	bad := &authFailure{http.StatusProxyAuthRequired, "proxy credentials missing, wrong or no longer valid"}
	if sandboxID == "" || pass == "" {
		return broker.SandboxEgress{}, bad
	}
	lctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	sb, err := p.src.EgressSandbox(lctx, sandboxID)
	switch {
	case broker.IsCode(err, broker.CodeNotFound) || broker.IsCode(err, broker.CodeInvalid):
		return broker.SandboxEgress{}, bad
	case err != nil:
		p.metrics.lookups.WithLabelValues("sandbox").Inc()
		p.log.Error().Err(err).Msg("egress sandbox record unreadable")
		return broker.SandboxEgress{}, &authFailure{http.StatusServiceUnavailable, "cannot check the proxy credentials now (Vault unavailable)"}
	}
	want := []byte(sb.CredentialHash)
	got := []byte(broker.CredentialHash(pass))
	if subtle.ConstantTimeCompare(want, got) != 1 || sb.SandboxID != sandboxID {
		return broker.SandboxEgress{}, bad
	}
	if !sb.ExpiresAt.IsZero() && !p.cfg.Now().Before(sb.ExpiresAt) {
		return broker.SandboxEgress{}, bad
	}
	return sb, nil
}

// ServeHTTP handles one request of a sandbox: CONNECT (tunnelled or
// intercepted) or a plain-HTTP absolute-URI request.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	started := time.Now()
	ri := &reqInfo{id: newRequestID(), method: r.Method, kind: "plain"}
	if r.Method == http.MethodConnect {
		ri.kind = "connect"
		ri.host = logSafe(hostOnly(r.Host))
	} else {
		if !r.URL.IsAbs() || r.URL.Scheme != "http" {
			refuse(w, http.StatusBadRequest, "egressd is a forward proxy: send CONNECT, or an absolute http:// URL")
			p.logRequest(ri, http.StatusBadRequest, 0, "refused", started, "not a proxy request")
			return
		}
		ri.host, ri.path = logSafe(strings.ToLower(r.URL.Hostname())), logSafe(r.URL.Path)
	}
	user, pass, _ := proxyCredentials(r)
	sb, fail := p.authenticate(r.Context(), user, pass)
	if fail != nil {
		refuse(w, fail.status, fail.reason)
		p.logRequest(ri, fail.status, 0, outcomeOf(fail.status), started, fail.reason)
		return
	}
	ri.sandbox = sb
	if r.Method == http.MethodConnect {
		p.connect(w, r, ri, pass, started)
		return
	}
	p.plain(w, r, ri, started)
}

func outcomeOf(status int) string {
	switch status {
	case http.StatusProxyAuthRequired:
		return "unauthenticated"
	case http.StatusServiceUnavailable:
		return "unavailable"
	case http.StatusBadGateway:
		return "upstream_error"
	}
	if status >= 400 {
		return "refused"
	}
	return "ok"
}

// hostOnly is the lower-case host of a host[:port].
func hostOnly(hostport string) string {
	h := hostport
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		h = host
	}
	return strings.TrimSuffix(strings.ToLower(strings.Trim(h, "[]")), ".")
}

// hostAllowedUnderDeny reports whether default-deny lets host through.
func (p *Proxy) hostAllowedUnderDeny(sb broker.SandboxEgress, host string) bool {
	return !p.cfg.DefaultDeny || broker.EgressHostAllowed(sb.Hosts, host) || broker.EgressHostAllowed(p.cfg.AllowHosts, host)
}

// logSafe is s with every placeholder token replaced by the marker and
// "[redacted]": no log line holds a placeholder (a path may).
func logSafe(s string) string {
	ms := broker.FindPlaceholders([]byte(s))
	if len(ms) == 0 {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range ms {
		b.WriteString(s[last:m.Start])
		b.WriteString(broker.PlaceholderMarker + "[redacted]")
		last = m.End
	}
	b.WriteString(s[last:])
	return b.String()
}
