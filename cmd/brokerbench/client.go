package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/acme/secretsbroker/client"
)

// brokerClient is the load client: the SDK over one http.Client with
// keep-alive connections to brokerd, enough idle connections for every
// worker. It never retries: a failed request counts as an error.
type brokerClient struct {
	api   *client.Client
	admin *client.Client // where GET /metrics is served (brokerd's admin listener)
}

func newBrokerClient(url, adminURL string) (*brokerClient, error) {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 1024,
		IdleConnTimeout:     90 * time.Second,
	}
	hc := &http.Client{Transport: tr, Timeout: 120 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	api, err := client.New(url, "", client.WithHTTPClient(hc), client.WithRetry(client.Retry{}))
	if err != nil {
		return nil, err
	}
	admin, err := client.New(adminURL, "", client.WithHTTPClient(hc), client.WithRetry(client.Retry{}))
	if err != nil {
		return nil, err
	}
	return &brokerClient{api: api, admin: admin}, nil
}

// as returns the client for one user's API key.
func (b *brokerClient) as(key string) *client.Client { return b.api.WithKey(key) }

// done drops a call's answer and keeps its error.
func done[T any](_ T, err error) error { return err }

// vaultCalls scrapes /metrics (on the admin listener) and returns the number of Vault calls brokerd
// made so far (broker_vault_request_duration_seconds_count, summed), and the
// count by operation.
func (b *brokerClient) vaultCalls(ctx context.Context) (float64, map[string]float64, error) {
	text, err := b.admin.Metrics(ctx)
	if err != nil {
		return 0, nil, err
	}
	const series = "broker_vault_request_duration_seconds_count{"
	var total float64
	byOp := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(text))
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
