package vaultx

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// These tests exercise directTransport's HTTP/1.1 mechanics against Go's own
// HTTP server (framing, keep-alive, TLS, cancellation); the calls it makes to
// Vault are covered by every integration test of this package.

func directGet(t *testing.T, tr *directTransport, ctx context.Context, url string) (int, string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// Sequential calls share one connection, whatever the body's framing.
func TestDirectTransportReusesConnections(t *testing.T) {
	big := strings.Repeat("x", 20000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/chunked" {
			_, _ = io.WriteString(w, big[:5000])
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, big[5000:])
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	tr := newDirectTransport(nil)
	defer tr.Close()
	for i := range 20 {
		path := "/small"
		if i%2 == 1 {
			path = "/chunked"
		}
		st, body, err := directGet(t, tr, context.Background(), srv.URL+path)
		if err != nil || st != 200 {
			t.Fatalf("call %d: %d %v", i, st, err)
		}
		if want := map[string]string{"/small": "ok", "/chunked": big}[path]; body != want {
			t.Fatalf("call %d: body of %d bytes, want %d", i, len(body), len(want))
		}
	}
	if n := tr.dials.Load(); n != 1 {
		t.Fatalf("20 sequential calls opened %d connections, want 1", n)
	}
}

// An answer with Connection: close, and a body closed before its end, do not
// leave their connection in the pool: the POST after each (a method never
// sent twice) would fail on it.
func TestDirectTransportDropsUnreusableConnections(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/close" {
			w.Header().Set("Connection", "close")
		}
		_, _ = io.WriteString(w, strings.Repeat("y", 10000))
	}))
	defer srv.Close()
	tr := newDirectTransport(nil)
	defer tr.Close()
	post := func(after string) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/post", strings.NewReader("{}"))
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatalf("POST after %s: %v", after, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if _, _, err := directGet(t, tr, context.Background(), srv.URL+"/close"); err != nil {
		t.Fatal(err)
	}
	post("an answer with Connection: close")
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/partial", http.NoBody)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = resp.Body.Read(make([]byte, 10))
	resp.Body.Close()
	post("a body closed before its end")
	if n := tr.dials.Load(); n != 3 {
		t.Fatalf("opened %d connections, want 3", n)
	}
}

// A server that closed an idle connection: a GET is sent again on a new one.
func TestDirectTransportRetriesStaleConnection(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	srv.Config.IdleTimeout = 50 * time.Millisecond
	srv.Start()
	defer srv.Close()
	tr := newDirectTransport(nil)
	defer tr.Close()
	if _, _, err := directGet(t, tr, context.Background(), srv.URL); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the server closes the idle connection
	st, body, err := directGet(t, tr, context.Background(), srv.URL)
	if err != nil || st != 200 || body != "ok" {
		t.Fatalf("after the server closed the idle connection: %d %q %v", st, body, err)
	}
	if n := tr.dials.Load(); n != 2 {
		t.Fatalf("opened %d connections, want 2", n)
	}
}

// Cancelling the context unblocks a call waiting for its answer at once,
// with the context's error; connections past idleFor are not reused.
func TestDirectTransportCancelAndIdleExpiry(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	defer close(release)
	tr := newDirectTransport(nil)
	tr.idleFor = 100 * time.Millisecond
	defer tr.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	start := time.Now()
	_, _, err := directGet(t, tr, ctx, srv.URL)
	if !errors.Is(err, context.Canceled) || time.Since(start) > 2*time.Second {
		t.Fatalf("cancelled call: %v after %s, want context.Canceled at once", err, time.Since(start))
	}
	if _, _, err := directGet(t, tr, context.Background(), srv.URL); err != nil {
		t.Fatal(err)
	}
	time.Sleep(250 * time.Millisecond) // past idleFor
	if _, _, err := directGet(t, tr, context.Background(), srv.URL); err != nil {
		t.Fatal(err)
	}
	if n := tr.dials.Load(); n != 3 {
		t.Fatalf("opened %d connections, want 3 (the cancelled one, then one more past idleFor)", n)
	}
}

// HTTPS: the configured roots are used, and the connection is reused.
func TestDirectTransportTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Proto)
	}))
	defer srv.Close()
	tr := newDirectTransport(srv.Client().Transport.(*http.Transport).TLSClientConfig)
	defer tr.Close()
	for range 3 {
		st, body, err := directGet(t, tr, context.Background(), srv.URL)
		if err != nil || st != 200 || body != "HTTP/1.1" {
			t.Fatalf("%d %q %v", st, body, err)
		}
	}
	if n := tr.dials.Load(); n != 1 {
		t.Fatalf("opened %d TLS connections, want 1", n)
	}
	untrusted := newDirectTransport(nil)
	defer untrusted.Close()
	if _, _, err := directGet(t, untrusted, context.Background(), srv.URL); err == nil {
		t.Fatal("a server certificate outside the roots was accepted")
	}
}
