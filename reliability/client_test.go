//go:build reliability

package reliability

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/acme/secretsbroker/client"
)

// answer is one HTTP exchange with the broker.
type answer struct {
	Status int
	Type   string // the error envelope's type, for non-2xx answers
	Header http.Header
	Body   []byte
	Err    error // transport failure (no answer)
}

// api is an HTTP client for one broker URL (which may change on restart),
// or for several replicas (bases): then requests go round robin, and a
// refused connection is sent again to the next replica, as a load balancer
// would.
type api struct {
	hc    *http.Client
	base  func() string
	bases []func() string
	next  atomic.Uint64
}

// newReplicasAPI is an api over several broker replicas.
func newReplicasAPI(bases []func() string, timeout time.Duration, conns int) *api {
	a := newAPI(nil, timeout, conns)
	a.bases = bases
	return a
}

func newAPI(base func() string, timeout time.Duration, conns int) *api {
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, IdleConnTimeout: 30 * time.Second}
	return &api{hc: &http.Client{Timeout: timeout, Transport: tr}, base: base}
}

// close drops the client's idle keep-alive connections.
func (a *api) close() { a.hc.CloseIdleConnections() }

// do sends one request through client.Do (never retried) to the current
// base URL, or to the next replica (the one after it when the connection is
// refused), and returns the exchange.
func (a *api) do(key, method, path string, body any, hdr ...string) answer {
	if len(a.bases) == 0 {
		return a.doOn(a.base(), key, method, path, body, hdr...)
	}
	first := int(a.next.Add(1))
	var res answer
	for i := range a.bases {
		res = a.doOn(a.bases[(first+i)%len(a.bases)](), key, method, path, body, hdr...)
		if !errors.Is(res.Err, syscall.ECONNREFUSED) {
			return res
		}
	}
	return res
}

func (a *api) doOn(base, key, method, path string, body any, hdr ...string) answer {
	var raw []byte
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			return answer{Err: err}
		}
		raw = j
	}
	c, err := client.New(base, key, client.WithHTTPClient(a.hc))
	if err != nil {
		return answer{Err: err}
	}
	h := http.Header{}
	for i := 0; i+1 < len(hdr); i += 2 {
		h.Set(hdr[i], hdr[i+1])
	}
	res, err := c.Do(context.Background(), method, path, raw, h)
	if err != nil {
		return answer{Err: err}
	}
	out := answer{Status: res.Status, Header: res.Header, Body: res.Body}
	var ae *client.APIError
	if res.Status >= 300 && errors.As(res.Err(), &ae) {
		out.Type = ae.Type
		if out.Type == "" {
			out.Type = "<no envelope>"
		}
	}
	return out
}

func (r answer) ok() bool { return r.Err == nil && r.Status/100 == 2 }

func (r answer) decode(v any) error { return json.Unmarshal(r.Body, v) }

func (r answer) String() string {
	if r.Err != nil {
		return "transport error: " + r.Err.Error()
	}
	return fmt.Sprintf("%d %.300s", r.Status, r.Body)
}
