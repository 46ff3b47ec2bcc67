package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"
)

func TestDriveAndSummarize(t *testing.T) {
	op := func(_ context.Context, _, i int, mark func()) error {
		time.Sleep(time.Millisecond) // untimed preparation
		mark()
		time.Sleep(time.Duration(1+i%2) * time.Millisecond)
		if i == 7 {
			return errors.New("boom")
		}
		return nil
	}
	a := drive(context.Background(), 4, 0, 10, op)
	b := drive(context.Background(), 4, 10, 10, op)
	s := a.merge(b).summarize()
	if s.Requests != 20 || s.Errors != 1 || s.FirstError != "boom" {
		t.Fatalf("requests %d errors %d first %q", s.Requests, s.Errors, s.FirstError)
	}
	if s.P50 < time.Millisecond || s.P50 > 3*time.Millisecond || s.P99 < s.P50 || s.Max < s.P99 {
		t.Fatalf("quantiles p50 %s p99 %s max %s (preparation must not count)", s.P50, s.P99, s.Max)
	}
	if s.Throughput <= 0 {
		t.Fatalf("throughput %f", s.Throughput)
	}
}

func TestVaultCallsScrape(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `# HELP broker_vault_request_duration_seconds Vault call latency.
broker_vault_request_duration_seconds_bucket{operation="kv_read",outcome="ok",le="0.001"} 3
broker_vault_request_duration_seconds_count{operation="kv_read",outcome="ok"} 7
broker_vault_request_duration_seconds_count{operation="kv_read",outcome="error"} 1
broker_vault_request_duration_seconds_count{operation="transit_decrypt",outcome="ok"} 2
broker_http_requests_total{route="/x",method="GET",status="200"} 99
`)
	}))
	defer srv.Close()
	bc, err := newBrokerClient(srv.URL, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	total, byOp, err := bc.vaultCalls(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if total != 10 || byOp["kv_read"] != 8 || byOp["transit_decrypt"] != 2 {
		t.Fatalf("total %v by op %v", total, byOp)
	}
}

func TestProcFigures(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	rss, err := peakRSS(os.Getpid())
	if err != nil || rss < 1<<20 {
		t.Fatalf("peak RSS %d (%v)", rss, err)
	}
	if _, err := cpuTime(os.Getpid()); err != nil {
		t.Fatal(err)
	}
}
