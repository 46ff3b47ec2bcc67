//go:build reliability

package reliability

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// answer is one HTTP exchange with the broker.
type answer struct {
	Status int
	Type   string // the error envelope's type, for non-2xx answers
	Header http.Header
	Body   []byte
	Err    error // transport failure (no answer)
}

// api is an HTTP client for one broker URL (which may change on restart).
type api struct {
	hc   *http.Client
	base func() string
}

func newAPI(base func() string, timeout time.Duration, conns int) *api {
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, IdleConnTimeout: 30 * time.Second}
	return &api{hc: &http.Client{Timeout: timeout, Transport: tr}, base: base}
}

// close drops the client's idle keep-alive connections.
func (a *api) close() { a.hc.CloseIdleConnections() }

func (a *api) do(key, method, path string, body any, hdr ...string) answer {
	var rd io.Reader
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			return answer{Err: err}
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, a.base()+path, rd)
	if err != nil {
		return answer{Err: err}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := a.hc.Do(req)
	if err != nil {
		return answer{Err: err}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return answer{Status: res.StatusCode, Err: fmt.Errorf("read body: %w", err)}
	}
	out := answer{Status: res.StatusCode, Header: res.Header, Body: b}
	if res.StatusCode >= 300 {
		var env struct {
			Code int    `json:"code"`
			Type string `json:"type"`
		}
		if json.Unmarshal(b, &env) == nil && env.Code == res.StatusCode {
			out.Type = env.Type
		} else {
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
