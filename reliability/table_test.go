//go:build reliability

package reliability

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// row is one line of the reliability table.
type row struct {
	Scenario    string
	Requests    int
	FaultErrors int           // non-2xx answers and transport errors while the fault lasted
	MaxLatency  time.Duration // slowest answer of the whole run
	Recovery    time.Duration // fault removed -> ready and writes succeed again
	Lost        int           // acknowledged creates/rotates that did not read back
	Note        string
	Pass        bool
}

type table struct {
	mu   sync.Mutex
	rows []row
}

var rows = &table{}

// report registers r for the table when the test ends; PASS unless the test failed.
func report(t *testing.T, r *row) {
	t.Cleanup(func() {
		r.Pass = !t.Failed()
		rows.mu.Lock()
		defer rows.mu.Unlock()
		rows.rows = append(rows.rows, *r)
	})
}

func (tb *table) render() string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	var b strings.Builder
	head := []string{"scenario", "requests", "errors during fault", "max latency", "recovery", "acked writes lost", "result", "notes"}
	lines := [][]string{head}
	for _, r := range tb.rows {
		res := "PASS"
		if !r.Pass {
			res = "FAIL"
		}
		rec := "-"
		if r.Recovery > 0 {
			rec = r.Recovery.Round(time.Millisecond).String()
		}
		lines = append(lines, []string{r.Scenario, fmt.Sprint(r.Requests), fmt.Sprint(r.FaultErrors),
			r.MaxLatency.Round(time.Millisecond).String(), rec, fmt.Sprint(r.Lost), res, r.Note})
	}
	w := make([]int, len(head))
	for _, l := range lines {
		for i, c := range l {
			w[i] = max(w[i], len(c))
		}
	}
	for n, l := range lines {
		for i, c := range l {
			fmt.Fprintf(&b, "| %-*s ", w[i], c)
		}
		b.WriteString("|\n")
		if n == 0 {
			for i := range head {
				b.WriteString("|" + strings.Repeat("-", w[i]+2))
			}
			b.WriteString("|\n")
		}
	}
	return strings.TrimRight(b.String(), "\n")
}
