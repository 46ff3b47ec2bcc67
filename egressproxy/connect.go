package egressproxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/acme/secretsbroker/broker"
)

// connect handles an authenticated CONNECT: refused under default-deny,
// intercepted for the sandbox's hosts (or every host in InterceptAll),
// tunnelled untouched otherwise.
func (p *Proxy) connect(w http.ResponseWriter, r *http.Request, ri *reqInfo, pass string, started time.Time) {
	host, port, err := net.SplitHostPort(r.Host)
	if err != nil || host == "" || port == "" {
		refuse(w, http.StatusBadRequest, "CONNECT needs host:port")
		p.logRequest(ri, http.StatusBadRequest, 0, "refused", started, "bad CONNECT target")
		return
	}
	if !p.hostAllowedUnderDeny(ri.sandbox, ri.host) {
		reason := "host not allowed for this sandbox (EGRESS_DEFAULT_DENY)"
		refuse(w, http.StatusForbidden, reason)
		p.logRequest(ri, http.StatusForbidden, 0, "refused", started, reason)
		return
	}
	intercept := p.cfg.Intercept == InterceptAll || broker.EgressHostAllowed(ri.sandbox.Hosts, ri.host)
	var upstream net.Conn
	if !intercept {
		dctx, cancel := context.WithTimeout(r.Context(), dialTimeout)
		upstream, err = p.dial(dctx, "tcp", r.Host)
		cancel()
		if err != nil {
			refuse(w, http.StatusBadGateway, "cannot connect to "+r.Host)
			p.logRequest(ri, http.StatusBadGateway, 0, "upstream_error", started, "dial failed")
			return
		}
	}
	client, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		if upstream != nil {
			upstream.Close()
		}
		refuse(w, http.StatusInternalServerError, "cannot take over the connection")
		p.logRequest(ri, http.StatusInternalServerError, 0, "refused", started, "hijack failed")
		return
	}
	_ = client.SetDeadline(time.Time{})
	if _, err := io.WriteString(client, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		client.Close()
		if upstream != nil {
			upstream.Close()
		}
		return
	}
	src := &bufConn{Conn: client, r: brw.Reader}
	if !intercept {
		ri.kind = "tunnel"
		p.tunnels.Add(1)
		p.metrics.tunnels.Inc()
		in, out := p.tunnel(src, upstream)
		p.metrics.tunnels.Dec()
		p.tunnels.Done()
		p.log.Info().Str("event", EventRequest).Str("request_id", ri.id).Str("kind", "tunnel").
			Str("sandbox_id", ri.sandbox.SandboxID).Str("runtime_id", ri.sandbox.RuntimeID).Str("user_id", ri.sandbox.UserID).
			Str("host", ri.host).Str("method", ri.method).Int("status", http.StatusOK).
			Int64("bytes_in", in).Int64("bytes", out).Str("outcome", "ok").Dur("duration", time.Since(started)).Msg(EventRequest)
		p.metrics.requests.WithLabelValues("tunnel", "ok").Inc()
		return
	}
	tc := tls.Server(src, &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return p.cfg.CA.Leaf(ri.host) // the CONNECT's host, whatever the SNI says
		},
	})
	hctx, cancel := context.WithTimeout(p.ctx, handshakeTimeout)
	err = tc.HandshakeContext(hctx)
	cancel()
	if err != nil {
		tc.Close()
		p.logRequest(ri, http.StatusOK, 0, "refused", started, "TLS handshake with the sandbox failed (does it trust the egress CA?)")
		return
	}
	p.metrics.intercepted.Inc()
	ic := &interceptConn{Conn: tc, info: connInfo{sandboxID: ri.sandbox.SandboxID, pass: pass, host: ri.host, port: port}, gauge: p.metrics.intercepted.Dec}
	if !p.innerLn.push(ic) {
		ic.Close()
		return
	}
	p.logRequest(ri, http.StatusOK, 0, "ok", started, "intercepted")
}

// tunnel copies bytes both ways until both sides are done (or Close).
func (p *Proxy) tunnel(client, upstream net.Conn) (in, out int64) {
	done := make(chan struct{})
	go func() {
		select {
		case <-p.ctx.Done():
			client.Close()
			upstream.Close()
		case <-done:
		}
	}()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		in, _ = io.Copy(upstream, client)
		closeWrite(upstream)
	}()
	out, _ = io.Copy(client, upstream)
	closeWrite(client)
	wg.Wait()
	close(done)
	client.Close()
	upstream.Close()
	return in, out
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		return
	}
	if bc, ok := c.(*bufConn); ok {
		closeWrite(bc.Conn)
	}
}

// bufConn is a hijacked connection read through the server's buffer (which
// may already hold the first bytes of the TLS handshake).
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// connInfo is what an intercepted connection carries from its CONNECT.
type connInfo struct {
	sandboxID string
	pass      string // checked again on every request (a revocation shows)
	host      string
	port      string
}

type interceptConn struct {
	net.Conn
	info  connInfo
	once  sync.Once
	gauge func()
}

func (c *interceptConn) Close() error {
	c.once.Do(c.gauge)
	return c.Conn.Close()
}

type connInfoKey struct{}

func connContext(ctx context.Context, c net.Conn) context.Context {
	if ic, ok := c.(*interceptConn); ok {
		return context.WithValue(ctx, connInfoKey{}, ic.info)
	}
	return ctx
}

// chanListener is the listener of the inner server: connect pushes the
// intercepted connections into it.
type chanListener struct {
	ch     chan net.Conn
	done   chan struct{}
	closed atomic.Bool
	once   sync.Once
}

func newChanListener() *chanListener {
	return &chanListener{ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) push(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { l.closed.Store(true); close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
