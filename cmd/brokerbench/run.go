package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/acme/secretsbroker/internal/repo"
	"github.com/acme/secretsbroker/redisx"
)

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// run is the whole program: start the servers, seed, measure, report.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	root, err := repo.Root()
	if err != nil {
		return err
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "brokerbench: "+format+"\n", a...) }

	work, err := os.MkdirTemp("", "brokerbench-")
	if err != nil {
		return err
	}
	if cfg.Keep {
		logf("logs in %s", work)
	} else {
		defer os.RemoveAll(work)
	}
	if cfg.VaultBin, err = findVault(ctx, cfg.VaultBin, root); err != nil {
		return err
	}
	if cfg.BrokerdBin == "" && !cfg.EgressOnly {
		logf("building brokerd (release build)")
		if cfg.BrokerdBin, err = buildBrokerd(ctx, cfg.GoBin, root, work); err != nil {
			return err
		}
	}
	v, err := startVault(ctx, cfg.VaultBin, work)
	if err != nil {
		return err
	}
	defer v.stop()
	if cfg.EgressOnly {
		er, err := runEgress(ctx, cfg, root, work, v, logf)
		if err != nil {
			return err
		}
		if cfg.Out == "" {
			cfg.Out = filepath.Join(root, "bench", "out")
		}
		var txt strings.Builder
		er.write(&txt)
		fmt.Fprint(stdout, txt.String())
		if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(cfg.Out, "egress.txt"), []byte(txt.String()), 0o644)
	}
	rp, redisURL, err := startRedis(ctx, cfg.RedisBin, work)
	if err != nil {
		return err
	}
	defer rp.stop()
	roleFile, secretFile, err := setupVault(ctx, cfg.BrokerdBin, v, work)
	if err != nil {
		return err
	}
	bd, err := startBrokerd(ctx, cfg.BrokerdBin, append(slices.Clone(cfg.BrokerEnv),
		"VAULT_ADDR="+v.addr,
		"BROKER_VAULT_ROLE_ID_FILE="+roleFile, "BROKER_VAULT_SECRET_ID_FILE="+secretFile,
		"REDIS_URL="+redisURL,
		// The rate limiter must not interfere: far above anything this run sends.
		"BROKER_RATE_PER_MINUTE=1000000000", "BROKER_RATE_BURST=1000000",
		"BROKER_WRAP_TTL="+cfg.WrapTTL.String(),
		"BROKER_LOG_LEVEL="+cfg.LogLevel,
		"BROKER_CPUPROFILE="+os.Getenv("BROKER_CPUPROFILE"), // a CPU profile of brokerd, written at its shutdown (empty: none)
	), work)
	if err != nil {
		return err
	}
	defer bd.stop()
	logf("vault %s, redis %s, brokerd %s (pid %d)", v.addr, redisURL, bd.url, bd.pid())

	// The floor authenticates like the broker: AppRole, same policy.
	floorToken, err := floorLogin(ctx, v.addr, roleFile, secretFile)
	if err != nil {
		return fmt.Errorf("floor login: %w", err)
	}
	logf("seeding users, API keys and secrets")
	t0 := time.Now()
	w, err := seed(ctx, v.addr, v.token, cfg)
	if err != nil {
		return err
	}
	logf("seeded in %s", time.Since(t0).Round(time.Millisecond))
	rc, err := redisx.New(ctx, redisURL, redisx.Options{}, zerolog.Nop())
	if err != nil {
		return err
	}
	defer rc.Close()
	bc, err := newBrokerClient(bd.url, bd.admin)
	if err != nil {
		return err
	}
	b := &bench{cfg: cfg, w: w, bc: bc, fl: &floor{v: newVaultClient(v.addr, floorToken), wrapTTL: cfg.WrapTTL}, cache: rc.ListCache()}

	var rows []row
	start := time.Now()
	for _, name := range cfg.Ops {
		spec := b.spec(name)
		for _, conc := range cfg.Conc {
			if err := ctx.Err(); err != nil {
				return err
			}
			// Expensive operations get fewer requests (the budget), and a
			// concurrency capped by what the operation allows (cold lists: one
			// user per worker) and by the number of requests.
			workers := min(conc, spec.maxConc)
			n := max(workers, min(cfg.Requests, cfg.Budget/max(1, spec.calls)))
			workers = min(workers, n)
			r, err := b.measure(ctx, spec, workers, n, bd, v.pid())
			if err != nil {
				return err
			}
			r.Conc, r.Workers = conc, workers
			if spec.floor == nil {
				for _, prev := range rows {
					if prev.Op == spec.sameFloorAs && prev.Conc == conc {
						r.Floor, r.FloorFrom = prev.Floor, prev.Op
					}
				}
			}
			logf("%-14s c=%-3d (%2d) broker %8.1f/s p99 %8s trips %6.1f | floor %8.1f/s p99 %8s trips %6.1f | err %d/%d",
				name, conc, workers, r.Broker.Throughput, ms(r.Broker.P99), r.Broker.Trips,
				r.Floor.Throughput, ms(r.Floor.P99), r.Floor.Trips, r.Broker.Errors, r.Floor.Errors)
			if r.Broker.FirstError != "" {
				logf("  broker error: %s", r.Broker.FirstError)
			}
			if r.Floor.FirstError != "" && r.FloorFrom == "" {
				logf("  floor error: %s", r.Floor.FirstError)
			}
			rows = append(rows, r)
		}
	}
	peak, _ := peakRSS(bd.pid())
	var er egressReport
	if cfg.Egress {
		if er, err = runEgress(ctx, cfg, root, work, v, logf); err != nil {
			return err
		}
	}
	rep := report{Rows: rows, Machine: machine(ctx, cfg), Duration: time.Since(start), Config: cfg, FinalRSS: peak, Egress: er}
	if bd.exited() {
		return errors.New("brokerd exited during the run")
	}
	if cfg.Out == "" {
		cfg.Out = filepath.Join(root, "bench", "out")
	}
	return rep.write(stdout, cfg.Out)
}

// measure runs one operation at one concurrency: a warm-up of each side,
// then rounds alternating broker and floor (so that a burst of load from
// elsewhere on the host hits both alike). Broker round trips come from
// /metrics scrapes around each broker round; its peak RSS is the VmHWM over
// the rounds.
func (b *bench) measure(ctx context.Context, spec opSpec, conc, n int, bd *brokerdServer, vaultPID int) (row, error) {
	r := row{Op: spec.name, Conc: conc, ByOp: map[string]float64{}}
	bop := spec.broker(conc)
	var fop opFunc
	if spec.floor != nil {
		fop = spec.floor(conc)
	}
	warm := min(conc, max(1, n/4))
	next := n // request numbers of warm-ups come after the timed ones
	drive(ctx, conc, next, warm, bop)
	if fop != nil {
		drive(ctx, conc, next, warm, fop)
	}
	next += warm
	if err := resetPeakRSS(bd.pid()); err != nil {
		return r, fmt.Errorf("reset brokerd peak RSS: %w", err)
	}
	rounds := max(1, min(b.cfg.Rounds, n/conc))
	var bTrips float64
	var fTrips uint64
	var bdCPU, bdSys, bvCPU, fvCPU, bcCPU, fcCPU time.Duration
	self := os.Getpid()
	var bdCalls uint64
	cpu := func(pid int) time.Duration { d, _ := cpuTime(pid); return d }
	done := 0
	for k := range rounds {
		m := (n - done) / (rounds - k)
		before, byOpBefore, err := b.bc.vaultCalls(ctx)
		if err != nil {
			return r, fmt.Errorf("scrape brokerd metrics: %w", err)
		}
		c0, v0 := cpu(bd.pid()), cpu(vaultPID)
		_, k0, _ := cpuTimes(bd.pid())
		n0 := syscalls(bd.pid())
		s0 := cpu(self)
		r.Broker = r.Broker.merge(drive(ctx, conc, done, m, bop))
		bcCPU += cpu(self) - s0
		bdCPU += cpu(bd.pid()) - c0
		_, k1, _ := cpuTimes(bd.pid())
		bdSys += k1 - k0
		bdCalls += syscalls(bd.pid()) - n0
		bvCPU += cpu(vaultPID) - v0
		after, byOp, err := b.bc.vaultCalls(ctx)
		if err != nil {
			return r, fmt.Errorf("scrape brokerd metrics: %w", err)
		}
		bTrips += after - before
		for op, v := range byOp {
			r.ByOp[op] += v - byOpBefore[op]
		}
		if fop != nil {
			t0, v0, s0 := b.fl.v.trips.Load(), cpu(vaultPID), cpu(self)
			r.Floor = r.Floor.merge(drive(ctx, conc, done, m, fop))
			fvCPU += cpu(vaultPID) - v0
			fcCPU += cpu(self) - s0
			fTrips += b.fl.v.trips.Load() - t0
		}
		done += m
	}
	rss, err := peakRSS(bd.pid())
	if err != nil {
		return r, err
	}
	r.RSS = rss
	r.Broker = r.Broker.summarize()
	r.Broker.Trips = bTrips / float64(n)
	r.Broker.BrokerdCPU, r.Broker.VaultCPU = bdCPU/time.Duration(n), bvCPU/time.Duration(n)
	r.Broker.BrokerdSys, r.Broker.BrokerdSyscalls = bdSys/time.Duration(n), float64(bdCalls)/float64(n)
	r.Broker.ClientCPU = bcCPU / time.Duration(n)
	for op, v := range r.ByOp {
		if r.ByOp[op] = v / float64(n); v == 0 {
			delete(r.ByOp, op)
		}
	}
	if fop != nil {
		r.Floor = r.Floor.summarize()
		r.Floor.Trips = float64(fTrips) / float64(n)
		r.Floor.VaultCPU = fvCPU / time.Duration(n)
		r.Floor.ClientCPU = fcCPU / time.Duration(n)
	}
	return r, nil
}

// offset numbers warm-up requests after the timed ones (distinct names).
func offset(op opFunc, by int) opFunc {
	return func(ctx context.Context, w, i int, mark func()) error { return op(ctx, w, i+by, mark) }
}

func floorLogin(ctx context.Context, addr, roleFile, secretFile string) (string, error) {
	role, err := os.ReadFile(roleFile)
	if err != nil {
		return "", err
	}
	secret, err := os.ReadFile(secretFile)
	if err != nil {
		return "", err
	}
	return appRoleLogin(ctx, addr, strings.TrimSpace(string(role)), strings.TrimSpace(string(secret)))
}

// findVault returns the Vault binary: the flag, vault on PATH, or the one
// scripts/get-vault.sh builds.
func findVault(ctx context.Context, flagValue, root string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if p, err := exec.LookPath("vault"); err == nil {
		return p, nil
	}
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "get-vault.sh"))
	cmd.Dir = root
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("scripts/get-vault.sh: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

func ms(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 1, 64) + "ms" }
