package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// config is every setting of a run.
type config struct {
	Requests    int   // requests per phase (cheap operations)
	Budget      int   // Vault calls one phase may cost: expensive operations get fewer requests
	Conc        []int // concurrencies
	Ops         []string
	Out         string // output directory
	VaultBin    string
	RedisBin    string
	BrokerdBin  string // empty: go build
	GoBin       string
	LogLevel    string   // brokerd's
	BrokerEnv   []string // brokerd's Go runtime settings (GOMAXPROCS=1, ...): none, the runtime's defaults
	ListUsers   int      // users per list size (cold lists need one user per worker)
	Items       int      // evaluation items
	EvalSecrets int      // secrets selected by an evaluation
	EvalConc    int      // cap on concurrent evaluations
	WrapTTL     time.Duration
	Rounds      int   // broker and floor alternate this many times per phase
	Keep        bool  // keep the work directory (logs)
	Egress      bool  // run the egress phase (egressd vs direct)
	EgressOnly  bool  // run only the egress phase (no Redis, no brokerd)
	EgressConc  []int // concurrencies of the egress phase
}

func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	var conc, ops string
	fs := flag.NewFlagSet("brokerbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.Requests, "n", 200, "requests per phase (operation x concurrency x side)")
	fs.IntVar(&c.Budget, "budget", 3000, "Vault calls one phase may cost: operations that cost more get fewer requests (at least the concurrency)")
	fs.StringVar(&conc, "conc", "1,8,32,64", "concurrencies")
	fs.StringVar(&ops, "ops", strings.Join(allOps(), ","), "operations to run")
	fs.StringVar(&c.Out, "out", "", "directory for results.csv, results.txt and chart.png (default: bench/out in the repository)")
	fs.StringVar(&c.VaultBin, "vault", getenv("VAULT_BIN"), "Vault binary (default: $VAULT_BIN, vault on PATH, scripts/get-vault.sh)")
	fs.StringVar(&c.RedisBin, "redis-server", "redis-server", "redis-server binary")
	fs.StringVar(&c.BrokerdBin, "brokerd", "", "brokerd binary (default: go build ./cmd/brokerd)")
	fs.StringVar(&c.GoBin, "go", "go", "go command used to build brokerd")
	fs.StringVar(&c.LogLevel, "broker-log-level", "info", "brokerd's log level (its logs go to a file)")
	var brokerEnv string
	fs.StringVar(&brokerEnv, "broker-env", "", "brokerd's Go runtime settings, comma-separated NAME=VALUE of "+strings.Join(runtimeEnvNames, ", ")+
		" (the Helm chart's: "+chartRuntimeEnv+"; empty: the runtime's defaults)")
	fs.IntVar(&c.ListUsers, "list-users", 8, "users per list size; a cold list takes one for itself, so this caps the cold-list concurrency")
	fs.IntVar(&c.Items, "items", 100, "items per evaluation")
	fs.IntVar(&c.EvalConc, "eval-conc", 8, "cap on concurrent evaluations (each runs 16 token mints at once)")
	fs.IntVar(&c.EvalSecrets, "eval-secrets", 5, "secrets an evaluation selects")
	fs.DurationVar(&c.WrapTTL, "wrap-ttl", 5*time.Minute, "bootstrap token TTL (broker and floor)")
	fs.IntVar(&c.Rounds, "rounds", 6, "rounds per phase, alternating broker and floor (evens out load from elsewhere on the host)")
	fs.BoolVar(&c.Keep, "keep", false, "keep the work directory with the servers' logs")
	fs.BoolVar(&c.Egress, "egress", true, "run the egress phase: a request with a substitution through egressd vs straight to the upstream")
	fs.BoolVar(&c.EgressOnly, "egress-only", false, "run only the egress phase")
	var egressConc string
	fs.StringVar(&egressConc, "egress-conc", "1,32,64", "concurrencies of the egress phase (64: egressd's RSS is reported)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if c.BrokerEnv, err = parseRuntimeEnv(brokerEnv); err != nil {
		return c, err
	}
	for _, s := range strings.Split(conc, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 1024 {
			return c, fmt.Errorf("-conc %q: want comma-separated numbers 1-1024", conc)
		}
		c.Conc = append(c.Conc, n)
	}
	for _, s := range strings.Split(egressConc, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 1024 {
			return c, fmt.Errorf("-egress-conc %q: want comma-separated numbers 1-1024", egressConc)
		}
		c.EgressConc = append(c.EgressConc, n)
	}
	known := map[string]bool{}
	for _, o := range append(allOps(), extraOps...) {
		known[o] = true
	}
	for _, o := range strings.Split(ops, ",") {
		if o = strings.TrimSpace(o); o == "" {
			continue
		}
		if !known[o] {
			return c, fmt.Errorf("-ops: unknown operation %q (known: %s)", o, strings.Join(append(allOps(), extraOps...), ","))
		}
		c.Ops = append(c.Ops, o)
	}
	switch {
	case c.Requests < 1 || c.Budget < 1 || c.Rounds < 1 || c.ListUsers < 1 || c.Items < 1 || c.EvalSecrets < 1 || c.EvalConc < 1:
		return c, errors.New("-n, -budget, -rounds, -list-users, -items and -eval-secrets must be positive")
	case c.EvalSecrets > 20:
		return c, errors.New("-eval-secrets: at most 20")
	case c.WrapTTL < time.Second:
		return c, errors.New("-wrap-ttl: at least 1s")
	}
	return c, nil
}

// runtimeEnvNames are the settings -broker-env may pass: the Go runtime's,
// never the broker's own (the run sets those).
var runtimeEnvNames = []string{"GOMAXPROCS", "GOGC", "GOMEMLIMIT", "GODEBUG"}

// chartRuntimeEnv is what the Helm chart sets (deploy/helm values.yaml).
const chartRuntimeEnv = "GOMAXPROCS=1"

// parseRuntimeEnv splits -broker-env into NAME=VALUE entries of
// runtimeEnvNames, each name at most once.
func parseRuntimeEnv(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []string
	seen := map[string]bool{}
	for _, kv := range strings.Split(s, ",") {
		kv = strings.TrimSpace(kv)
		name, value, ok := strings.Cut(kv, "=")
		if !ok || value == "" || !slices.Contains(runtimeEnvNames, name) || seen[name] {
			return nil, fmt.Errorf("-broker-env %q: want comma-separated NAME=VALUE, each of %s at most once", kv, strings.Join(runtimeEnvNames, ", "))
		}
		seen[name] = true
		out = append(out, kv)
	}
	return out, nil
}
