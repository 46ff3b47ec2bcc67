//go:build reliability

package reliability

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestLoad64: 64 concurrent clients, one user each, for RELIABILITY_SOAK
// (default 60s) of mixed traffic (list, get, create, rotate, provision and
// deprovision): no 5xx, no transport error, and afterwards brokerd's
// goroutine and open file counts are back to their baseline.
func TestLoad64(t *testing.T) {
	dur := 60 * time.Second
	if v := os.Getenv("RELIABILITY_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("RELIABILITY_SOAK=%q: %v", v, err)
		}
		dur = d
	}
	const clients = 64
	r := &row{Scenario: fmt.Sprintf("load: %d clients x %s", clients, dur)}
	report(t, r)
	s := newStack(t)
	b := s.startBroker(map[string]string{"BROKER_REQUEST_TIMEOUT": "30s", "BROKER_NAME_GRACE": "30s"})
	users := s.users("soak", clients)
	a := newAPI(func() string { return b.URL }, 45*time.Second, 2*clients)

	// Warm up at full concurrency (pools fill), then take the baseline with
	// no client connection open.
	warm := newLoad(a, users, soakMix, 0)
	warm.start()
	time.Sleep(3 * time.Second)
	warm.stop()
	a.close()
	time.Sleep(2 * time.Second)
	baseG, baseF := goroutines(t, b), openFiles(t, b)

	ld := newLoad(a, users, soakMix, 0)
	var peakG, peakF int
	stopSample := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stopSample:
				return
			case <-time.After(2 * time.Second):
			}
			peakG, peakF = max(peakG, goroutines(t, b)), max(peakF, openFiles(t, b))
		}
	})
	start := time.Now()
	ld.start()
	time.Sleep(dur)
	ld.stop()
	elapsed := time.Since(start)
	close(stopSample)
	wg.Wait()
	a.close()

	// Idle keep-alive connections to Vault close after the Vault client's
	// IdleConnTimeout (90s): until then they hold a descriptor and two
	// goroutines each, so the settling wait outlasts it.
	const settleMax = 120 * time.Second
	var endG, endF int
	settle := time.Now()
	back := false
	for time.Since(settle) < settleMax {
		endG, endF = goroutines(t, b), openFiles(t, b)
		if endG <= baseG+5 && endF <= baseF+2 {
			back = true
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	r.Recovery = time.Since(settle)
	if !back {
		t.Errorf("after the load: %d goroutines (baseline %d), %d open files (baseline %d)", endG, baseG, endF, baseF)
	}

	all := ld.snapshot()
	st := summarize(all)
	r.Requests, r.MaxLatency = st.n, st.maxLatency
	fivexx := 0
	for _, x := range all {
		if x.A.Err != nil || x.A.Status >= 500 {
			fivexx++
			if fivexx <= 5 {
				t.Errorf("%s answered %s", x.Op, x.A)
			}
		} else if !x.A.ok() {
			t.Errorf("%s answered %s", x.Op, x.A)
		}
	}
	r.FaultErrors = fivexx
	if fivexx > 0 {
		t.Errorf("%d answers were 5xx or transport errors", fivexx)
	}
	t.Logf("%d requests in %s (%.0f/s): %s", st.n, elapsed.Round(time.Millisecond), float64(st.n)/elapsed.Seconds(), st)
	r.Lost = verifyAcked(t, a, s.vault.Addr, ld.ackList())
	r.Note = fmt.Sprintf("%.0f req/s, p99 %s; goroutines %d->%d->%d, fds %d->%d->%d (base->peak->after)",
		float64(st.n)/elapsed.Seconds(), p99(all).Round(time.Millisecond), baseG, peakG, endG, baseF, peakF, endF)
}

func p99(rs []result) time.Duration {
	if len(rs) == 0 {
		return 0
	}
	ls := make([]time.Duration, len(rs))
	for i, r := range rs {
		ls[i] = r.latency()
	}
	slices.Sort(ls)
	return ls[len(ls)*99/100]
}

// goroutines reads go_goroutines from brokerd's /metrics.
func goroutines(t *testing.T, b *brokerd) int {
	t.Helper()
	a := newAPI(func() string { return b.AdminURL }, 10*time.Second, 1)
	defer a.close()
	res := a.do("", "GET", "/metrics", nil)
	sc := bufio.NewScanner(strings.NewReader(string(res.Body)))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return int(n)
			}
		}
	}
	t.Fatalf("no go_goroutines in /metrics: %s", res)
	return 0
}

// openFiles counts brokerd's open file descriptors in /proc.
func openFiles(t *testing.T, b *brokerd) int {
	t.Helper()
	es, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", b.pid()))
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}
