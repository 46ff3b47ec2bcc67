package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// row is one operation at one concurrency: broker and floor.
type row struct {
	Op        string
	Conc      int
	Workers   int // the concurrency actually run (capped for cold lists and evaluations)
	Broker    stats
	Floor     stats
	FloorFrom string             // set when the floor is another row's (warm lists)
	RSS       int64              // brokerd peak RSS during the broker phase, bytes
	ByOp      map[string]float64 // brokerd's Vault calls per request, by operation
}

// Ratio is broker throughput over floor throughput.
func (r row) Ratio() float64 {
	if r.Floor.Throughput == 0 {
		return 0
	}
	return r.Broker.Throughput / r.Floor.Throughput
}

type report struct {
	Rows     []row
	Machine  string
	Duration time.Duration
	Config   config
	FinalRSS int64
	Egress   egressReport
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

func msf(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 2, 64) }
func us(d time.Duration) string  { return strconv.FormatFloat(float64(d)/1e3, 'f', 1, 64) }

func (rep report) write(stdout io.Writer, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var txt strings.Builder
	rep.table(&txt)
	rep.targets(&txt)
	rep.Egress.write(&txt)
	if _, err := io.WriteString(stdout, txt.String()); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.txt"), []byte(txt.String()), 0o644); err != nil {
		return err
	}
	if err := rep.csv(filepath.Join(dir, "results.csv")); err != nil {
		return err
	}
	if err := rep.chart(filepath.Join(dir, "chart.png")); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nwrote %s, %s and %s\n", filepath.Join(dir, "results.txt"), filepath.Join(dir, "results.csv"), filepath.Join(dir, "chart.png"))
	return nil
}

func (rep report) table(w io.Writer) {
	runtime := "the Go runtime's defaults"
	if len(rep.Config.BrokerEnv) > 0 {
		runtime = strings.Join(rep.Config.BrokerEnv, " ")
	}
	fmt.Fprintf(w, "brokerbench %s\nmachine: %s\nrun: %s, -n %d -budget %d -rounds %d, evaluation of %d items selecting %d secrets; brokerd: %s\n\n",
		time.Now().UTC().Format(time.RFC3339), rep.Machine, rep.Duration.Round(time.Second), rep.Config.Requests, rep.Config.Budget,
		rep.Config.Rounds, rep.Config.Items, rep.Config.EvalSecrets, runtime)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "op\tconc\tworkers\treqs\t|\tbroker/s\tp50 ms\tp95 ms\tp99 ms\terr\ttrips\tbd cpu\tbd sys\tbd sc\tv cpu\tcl cpu\t|\tfloor/s\tp50 ms\tp95 ms\tp99 ms\terr\ttrips\tv cpu\tcl cpu\t|\tratio\trss MB\t")
	for _, r := range rep.Rows {
		floorNote := ""
		if r.FloorFrom != "" {
			floorNote = "*"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t|\t%.1f\t%s\t%s\t%s\t%d\t%.2f\t%s\t%s\t%.1f\t%s\t%s\t|\t%.1f%s\t%s\t%s\t%s\t%d\t%.2f\t%s\t%s\t|\t%.2f\t%.1f\t\n",
			r.Op, r.Conc, r.Workers, r.Broker.Requests,
			r.Broker.Throughput, msf(r.Broker.P50), msf(r.Broker.P95), msf(r.Broker.P99), r.Broker.Errors, r.Broker.Trips, msf(r.Broker.BrokerdCPU), msf(r.Broker.BrokerdSys), r.Broker.BrokerdSyscalls, msf(r.Broker.VaultCPU), msf(r.Broker.ClientCPU),
			r.Floor.Throughput, floorNote, msf(r.Floor.P50), msf(r.Floor.P95), msf(r.Floor.P99), r.Floor.Errors, r.Floor.Trips, msf(r.Floor.VaultCPU), msf(r.Floor.ClientCPU),
			r.Ratio(), mb(r.RSS))
	}
	tw.Flush()
	fmt.Fprintln(w, "\n* warm lists: the floor has no cache, so it is the cold list's floor.")
	fmt.Fprintln(w, "workers: the concurrency actually run: cold lists need a user per worker (-list-users), evaluations are capped by -eval-conc.")
	fmt.Fprintln(w, "bd cpu, v cpu: CPU milliseconds per request used by brokerd and by Vault (from /proc; all processes share the host's CPUs).")
	fmt.Fprintln(w, "cl cpu: brokerbench's own CPU per request in that side's rounds (the load loop and the SDK for the broker; the load loop and the Vault calls for the floor).")
	fmt.Fprintln(w, "bd sys: the kernel's part of bd cpu; bd sc: brokerd's read and write system calls per request (/proc/<pid>/io).")
	fmt.Fprintln(w, "trips: Vault round trips per request (broker: from its /metrics; floor: counted by its client).")
	fmt.Fprintln(w, "\nbrokerd Vault calls per request, by operation (concurrency 32, or the highest run):")
	for _, r := range rep.Rows {
		if r.Conc != rep.refConc() {
			continue
		}
		keys := make([]string, 0, len(r.ByOp))
		for k := range r.ByOp {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s=%.2f", k, r.ByOp[k])
		}
		fmt.Fprintf(w, "  %-14s %s\n", r.Op, strings.Join(parts, " "))
	}
}

// refConc is 32 when it was run, else the highest concurrency.
func (rep report) refConc() int {
	best := 0
	for _, c := range rep.Config.Conc {
		if c == 32 {
			return 32
		}
		best = max(best, c)
	}
	return best
}

func (rep report) find(op string, conc int) (row, bool) {
	for _, r := range rep.Rows {
		if r.Op == op && r.Conc == conc {
			return r, true
		}
	}
	return row{}, false
}

// targets checks issue 6's targets against the rows.
func (rep report) targets(w io.Writer) {
	fmt.Fprintln(w, "\ntargets:")
	verdict := func(ok bool) string {
		if ok {
			return "PASS"
		}
		return "MISS"
	}
	c := rep.refConc()
	for _, op := range []string{"create", "get", "rotate", "provision1", "provision5", "provision20", "evaluation"} {
		if r, ok := rep.find(op, c); ok {
			fmt.Fprintf(w, "  %s  %-12s throughput at c=%d: %.0f%% of the floor (>= 85%%)\n", verdict(r.Ratio() >= 0.85), op, c, 100*r.Ratio())
		}
	}
	for _, n := range listSizes {
		cold, ok1 := rep.find(fmt.Sprintf("list%d_cold", n), 1)
		warm, ok2 := rep.find(fmt.Sprintf("list%d_warm", n), 1)
		if ok1 && ok2 && warm.Broker.P50 > 0 {
			x := float64(cold.Broker.P50) / float64(warm.Broker.P50)
			v, goal := verdict(x >= 10), "(>= 10x)"
			if n != 500 {
				v, goal = "info", "(the target is for 500)"
			}
			fmt.Fprintf(w, "  %s  list %-4d    warm p50 %sms vs cold %sms at c=1: %.1fx faster %s\n",
				v, n, msf(warm.Broker.P50), msf(cold.Broker.P50), x, goal)
		}
		if ok1 {
			bounded := cold.Broker.Trips <= float64(n)+3
			fmt.Fprintf(w, "  %s  list %-4d    cold round trips %.1f per list (LIST + %d metadata reads, 16 at a time; floor %.1f)\n",
				verdict(bounded), n, cold.Broker.Trips, n, cold.Floor.Trips)
		}
	}
	p1, ok1 := rep.find("provision1", 1)
	p20, ok2 := rep.find("provision20", 1)
	if ok1 && ok2 && p1.Broker.P50 > 0 {
		x := float64(p20.Broker.P50) / float64(p1.Broker.P50)
		fx := 0.0
		if p1.Floor.P50 > 0 {
			fx = float64(p20.Floor.P50) / float64(p1.Floor.P50)
		}
		fmt.Fprintf(w, "  %s  provision    p50 with 20 secrets %sms vs 1 secret %sms at c=1: %.2fx (<= 2x; the floor: %.2fx)\n",
			verdict(x <= 2), msf(p20.Broker.P50), msf(p1.Broker.P50), x, fx)
	}
	var rss64 int64
	for _, r := range rep.Rows {
		if r.Conc == 64 {
			rss64 = max(rss64, r.RSS)
		}
	}
	var peak int64
	errs := 0
	for _, r := range rep.Rows {
		peak = max(peak, r.RSS)
		errs += r.Broker.Errors
		if r.FloorFrom == "" {
			errs += r.Floor.Errors
		}
	}
	if rss64 > 0 {
		fmt.Fprintf(w, "  %s  brokerd peak RSS at c=64: %.1f MB (< 150 MB); highest of any phase %.1f MB\n", verdict(rss64 < 150<<20), mb(rss64), mb(peak))
	} else {
		fmt.Fprintf(w, "  ----  brokerd peak RSS: %.1f MB (concurrency 64 not run)\n", mb(peak))
	}
	fmt.Fprintf(w, "  %s  errors: %d in all runs (broker and floor)\n", verdict(errs == 0), errs)
}

func (rep report) csv(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	cw := csv.NewWriter(f)
	_ = cw.Write([]string{"op", "concurrency", "workers", "side", "requests", "throughput_per_s", "p50_ms", "p95_ms", "p99_ms", "max_ms",
		"errors", "vault_trips_per_op", "brokerd_cpu_ms_per_op", "brokerd_sys_ms_per_op", "brokerd_syscalls_per_op", "vault_cpu_ms_per_op", "client_cpu_ms_per_op", "ratio_broker_over_floor", "brokerd_peak_rss_mb", "floor_of"})
	for _, r := range rep.Rows {
		for _, side := range []string{"broker", "floor"} {
			s, rss, from := r.Broker, strconv.FormatFloat(mb(r.RSS), 'f', 1, 64), ""
			if side == "floor" {
				s, rss, from = r.Floor, "", r.FloorFrom
			}
			_ = cw.Write([]string{r.Op, strconv.Itoa(r.Conc), strconv.Itoa(r.Workers), side, strconv.Itoa(s.Requests),
				strconv.FormatFloat(s.Throughput, 'f', 2, 64), msf(s.P50), msf(s.P95), msf(s.P99), msf(s.Max),
				strconv.Itoa(s.Errors), strconv.FormatFloat(s.Trips, 'f', 2, 64), msf(s.BrokerdCPU), msf(s.BrokerdSys), strconv.FormatFloat(s.BrokerdSyscalls, 'f', 1, 64), msf(s.VaultCPU), msf(s.ClientCPU), strconv.FormatFloat(r.Ratio(), 'f', 3, 64), rss, from})
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// machine describes where the run happened.
func machine(ctx context.Context, cfg config) string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				mem = fmt.Sprintf(", %.1f GB RAM", float64(kb)/(1<<20))
			}
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	ver := func(bin string, args ...string) string {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		out, err := exec.CommandContext(cctx, bin, args...).Output()
		if err != nil {
			return "?"
		}
		return strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	}
	return fmt.Sprintf("%d CPUs (%s)%s, Linux %s, %s, %s, %s; all on one host",
		runtime.NumCPU(), cpu, mem, strings.TrimSpace(string(kernel)), runtime.Version(),
		strings.SplitN(ver(cfg.VaultBin, "version"), ",", 2)[0], strings.SplitN(ver(cfg.RedisBin, "--version"), " sha=", 2)[0])
}
