package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// brokerClient is the load client: one http.Client with keep-alive
// connections to brokerd, enough idle connections for every worker.
type brokerClient struct {
	url   string
	admin string // where GET /metrics is served (brokerd's admin listener)
	hc    *http.Client
}

func newBrokerClient(url string) *brokerClient {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 1024,
		IdleConnTimeout:     90 * time.Second,
	}
	return &brokerClient{url: url, admin: url, hc: &http.Client{Transport: tr, Timeout: 120 * time.Second}}
}

// do sends one API request and drains the answer; a status other than want
// is an error. out, when set, receives the decoded JSON answer.
func (b *brokerClient) do(ctx context.Context, key, method, path string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		buf, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequestWithContext(ctx, method, b.url+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("X-API-Key", key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := b.hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != want {
		msg, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return fmt.Errorf("%s %s: status %d: %s", method, path, res.StatusCode, bytes.TrimSpace(msg))
	}
	if out != nil {
		return json.NewDecoder(res.Body).Decode(out)
	}
	_, err = io.Copy(io.Discard, res.Body)
	return err
}

// vaultCalls scrapes /metrics (on the admin listener) and returns the number of Vault calls brokerd
// made so far (broker_vault_request_duration_seconds_count, summed), and the
// count by operation.
func (b *brokerClient) vaultCalls(ctx context.Context) (float64, map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.admin+"/metrics", nil)
	if err != nil {
		return 0, nil, err
	}
	res, err := b.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	const series = "broker_vault_request_duration_seconds_count{"
	var total float64
	byOp := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, series) {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return 0, nil, fmt.Errorf("metrics line %q: %w", line, err)
		}
		total += v
		labels := line[len(series):strings.IndexByte(line, '}')]
		for _, l := range strings.Split(labels, ",") {
			if op, ok := strings.CutPrefix(l, `operation="`); ok {
				byOp[strings.TrimSuffix(op, `"`)] += v
			}
		}
	}
	return total, byOp, sc.Err()
}
