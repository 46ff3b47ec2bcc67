package vaultx

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// directTransport is the HTTP/1.1 transport of the broker's own Vault calls
// (send): it writes a request and reads its answer on the caller's
// goroutine, over kept-alive connections of its own pool. net/http's
// Transport hands every call to a writer and a reader goroutine per
// connection; on brokerd's 2 CPUs, perf showed the thread wake-ups and
// context switches of those hand-offs as the largest single part of
// brokerd's CPU per Vault call (create and rotate make five).
//
// What it keeps of net/http: the request is written by http.Request.Write
// and the answer parsed by http.ReadResponse (status line, headers,
// Content-Length or chunked bodies, Connection: close). What it does not do:
// HTTP/2, proxies, compression, 1xx answers. A connection is reused only
// after its answer was read to the end, and only within idleFor of its last
// use (far below the idle timeouts of Vault, 5 minutes, and of the load
// balancers in front of it, so that the other end does not close a
// connection as it is being reused). A call of a method safe to repeat (GET,
// LIST, DELETE) that finds a reused connection closed is sent once more on a
// new connection; anything else is returned, for retry.go's policy (which
// reads a check-and-set write back rather than repeat it).
type directTransport struct {
	dialer  *net.Dialer
	tls     *tls.Config // nil: plain http only
	idleFor time.Duration
	maxIdle int // per scheme://host

	dials atomic.Uint64 // connections opened, for tests

	mu     sync.Mutex
	idle   map[string][]*directConn
	closed bool
}

type directConn struct {
	key  string
	nc   net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer
	used time.Time
}

func newDirectTransport(tlsCfg *tls.Config) *directTransport {
	var tc *tls.Config
	if tlsCfg != nil {
		tc = tlsCfg.Clone()
		tc.NextProtos = []string{"http/1.1"}
	}
	return &directTransport{
		dialer:  newDialer(),
		tls:     tc,
		idleFor: 10 * time.Second,
		maxIdle: 256,
		idle:    map[string][]*directConn{},
	}
}

// errTransportClosed answers calls made after Close.
var errTransportClosed = errors.New("vault transport closed")

// aLongTimeAgo is a deadline in the past: it unblocks a read or write at once.
var aLongTimeAgo = time.Unix(1, 0)

func (t *directTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		pc, reused, err := t.conn(req)
		if err != nil {
			return nil, err
		}
		resp, err := t.exchange(pc, req)
		if err == nil {
			return resp, nil
		}
		pc.nc.Close()
		if attempt == 0 && reused && req.Context().Err() == nil && replayable(req) && staleConn(err) {
			continue // the server had closed this idle connection: a fresh one
		}
		return nil, err
	}
}

// exchange sends req on pc and reads the answer's head, within req's
// context (its deadline, and its cancellation, which unblocks the
// connection at once).
func (t *directTransport) exchange(pc *directConn, req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	dl, _ := ctx.Deadline() // zero: none
	if err := pc.nc.SetDeadline(dl); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = pc.nc.SetDeadline(aLongTimeAgo) })
	fail := func(err error) (*http.Response, error) {
		stop()
		if cerr := ctx.Err(); cerr != nil {
			err = &net.OpError{Op: "read", Net: "tcp", Err: cerr}
		}
		return nil, err
	}
	if err := req.Write(pc.bw); err != nil {
		return fail(err)
	}
	if err := pc.bw.Flush(); err != nil {
		return fail(err)
	}
	resp, err := http.ReadResponse(pc.br, req)
	if err != nil {
		return fail(err)
	}
	resp.Body = &directBody{t: t, pc: pc, body: resp.Body, keep: !resp.Close, stop: stop}
	return resp, nil
}

// conn takes the most recently used idle connection to req's host, or dials
// one. Idle connections past idleFor are closed.
func (t *directTransport) conn(req *http.Request) (*directConn, bool, error) {
	key := req.URL.Scheme + "://" + req.URL.Host
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil, false, errTransportClosed
	}
	list := t.idle[key]
	var stale []*directConn
	var pc *directConn
	for len(list) > 0 && pc == nil {
		c := list[len(list)-1]
		list = list[:len(list)-1]
		if time.Since(c.used) > t.idleFor {
			stale = append(stale, c)
			continue
		}
		pc = c
	}
	t.idle[key] = list
	t.mu.Unlock()
	for _, c := range stale {
		c.nc.Close()
	}
	if pc != nil {
		return pc, true, nil
	}
	pc, err := t.dial(req.Context(), key, req)
	return pc, false, err
}

func (t *directTransport) dial(ctx context.Context, key string, req *http.Request) (*directConn, error) {
	addr := req.URL.Host
	if req.URL.Port() == "" {
		port := "80"
		if req.URL.Scheme == "https" {
			port = "443"
		}
		addr = net.JoinHostPort(req.URL.Hostname(), port)
	}
	nc, err := t.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	t.dials.Add(1)
	if req.URL.Scheme == "https" {
		cfg := t.tls
		if cfg == nil {
			cfg = &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
		}
		if cfg.ServerName == "" {
			cfg = cfg.Clone()
			cfg.ServerName = req.URL.Hostname()
		}
		tc := tls.Client(nc, cfg)
		hctx, cancel := context.WithTimeout(ctx, tlsHandshakeTimeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			nc.Close()
			return nil, err
		}
		nc = tc
	}
	return &directConn{key: key, nc: nc, br: bufio.NewReaderSize(nc, 8<<10), bw: bufio.NewWriterSize(nc, 8<<10)}, nil
}

// put returns a connection whose answer was read to the end to the pool.
func (t *directTransport) put(pc *directConn) {
	if pc.nc.SetDeadline(time.Time{}) != nil {
		pc.nc.Close()
		return
	}
	pc.used = time.Now()
	t.mu.Lock()
	if t.closed || len(t.idle[pc.key]) >= t.maxIdle {
		t.mu.Unlock()
		pc.nc.Close()
		return
	}
	t.idle[pc.key] = append(t.idle[pc.key], pc)
	t.mu.Unlock()
}

// Close closes the idle connections; calls after it fail.
func (t *directTransport) Close() {
	t.mu.Lock()
	idle := t.idle
	t.idle, t.closed = map[string][]*directConn{}, true
	t.mu.Unlock()
	for _, list := range idle {
		for _, c := range list {
			c.nc.Close()
		}
	}
}

// directBody gives the connection back once the body was read to its end
// (and the call's cancellation hook was removed); otherwise closes it.
type directBody struct {
	t    *directTransport
	pc   *directConn
	body io.ReadCloser
	keep bool
	eof  bool
	done bool
	stop func() bool
}

func (b *directBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, http.ErrBodyReadAfterClose
	}
	n, err := b.body.Read(p)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

func (b *directBody) Close() error {
	if b.done {
		return nil
	}
	b.done = true
	stopped := b.stop()
	if b.eof && b.keep && stopped && b.pc.br.Buffered() == 0 {
		b.t.put(b.pc)
		return nil
	}
	return b.pc.nc.Close()
}

// replayable: the methods the broker may send twice with the same effect.
func replayable(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodDelete, "LIST":
		return true
	}
	return false
}

// staleConn: the connection was found closed by the server (reset, broken
// pipe, or closed before an answer started).
func staleConn(err error) bool {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe) && !oe.Timeout() && (oe.Op == "read" || oe.Op == "write")
}
