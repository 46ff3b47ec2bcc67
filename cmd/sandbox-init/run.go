package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"

	"github.com/rs/zerolog"

	"github.com/acme/secretsbroker/internal/buildinfo"
)

const usage = `usage: sandbox-init write --out PATH [--ca-out PATH]
       sandbox-init exec [--ca-out PATH] -- CMD [ARGS...]

Looks up the bootstrap token, checks that its creation path is
<BROKER_KV_MOUNT>/data/sandboxes/<BROKER_SANDBOX_ID>, unwraps it, then writes
the variables to PATH (mode 0400, for "set -a; . PATH") or runs CMD with them.

An egress bundle (delivery "egress") carries egressd's CA certificate: it is
not exported but written, after the system roots, to a CA bundle file
(--ca-out; default PATH.ca.pem for write, $TMPDIR/sandbox-init-<sandbox>-ca.pem
for exec; mode 0444), and SSL_CERT_FILE, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE,
NODE_EXTRA_CA_CERTS and GIT_SSL_CAINFO name that file.

Environment: VAULT_ADDR, BROKER_SANDBOX_ID, BROKER_BOOTSTRAP_TOKEN or
BROKER_BOOTSTRAP_TOKEN_FILE (a regular file, not a symlink; emptied after use
when writable), BROKER_KV_MOUNT (default broker), BROKER_INIT_DEADLINE
(default 30s), BROKER_BOOTSTRAP_ACCESSOR (optional, logged), VAULT_CACERT,
VAULT_CAPATH, VAULT_CLIENT_CERT, VAULT_CLIENT_KEY, VAULT_TLS_SERVER_NAME,
VAULT_SKIP_VERIFY.

Exit codes: 0 success; 1 bundle refused, env file or workload failed;
2 usage or configuration error; 3 Vault unreachable until the deadline;
4 token expired, unknown or already used (possible interception);
5 creation path mismatch (forged token, not unwrapped).
exec exits with the workload's own code (128+N if killed by signal N).
sandbox-init --version prints the version, commit and Go version.
`

// command is a parsed command line.
type command struct {
	name  string   // "write", "exec" or "version"
	out   string   // write: destination
	caOut string   // the CA bundle of an egress bundle ("": the default)
	argv  []string // exec: workload argv
}

func parseArgs(args []string) (command, error) {
	if len(args) == 0 {
		return command{}, errors.New("missing subcommand (write or exec)")
	}
	c := command{name: args[0]}
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	switch c.name {
	case "-h", "-help", "--help", "help":
		return c, flag.ErrHelp
	case "--version", "-version", "version":
		return command{name: "version"}, nil
	case "write":
		fs.StringVar(&c.out, "out", "", "env file to write")
		fs.StringVar(&c.caOut, "ca-out", "", "CA bundle file of an egress bundle")
		if err := fs.Parse(args[1:]); err != nil {
			return c, err
		}
		if c.out == "" {
			return c, errors.New("write needs --out PATH")
		}
		if fs.NArg() > 0 {
			return c, fmt.Errorf("write: unexpected argument %q", fs.Arg(0))
		}
	case "exec":
		fs.StringVar(&c.caOut, "ca-out", "", "CA bundle file of an egress bundle")
		if err := fs.Parse(args[1:]); err != nil {
			return c, err
		}
		if c.argv = fs.Args(); len(c.argv) == 0 {
			return c, errors.New("exec needs a command: sandbox-init exec -- CMD [ARGS...]")
		}
	default:
		return c, fmt.Errorf("unknown subcommand %q (write or exec)", c.name)
	}
	return c, nil
}

// run is the whole program; main maps its error to the exit status (see
// exitCode). Every outcome is one JSON log line on stderr; none holds the
// token or a value.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd, err := parseArgs(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usage)
		return nil
	}
	if err == nil && cmd.name == "version" {
		fmt.Fprintln(stdout, buildinfo.String("sandbox-init"))
		return nil
	}
	if err != nil {
		fmt.Fprintf(stderr, "sandbox-init: %v (see sandbox-init --help)\n", err)
		return fail(exitUsage, err, "usage error")
	}
	log := zerolog.New(stderr).With().Timestamp().Str("cmd", "sandbox-init").Str("mode", cmd.name).Logger()
	cfg, err := loadConfig(getenv)
	if err != nil {
		log.Error().Int("exit", exitUsage).Str("error", err.Error()).Msg("configuration error")
		return fail(exitUsage, err, "configuration error")
	}
	lc := log.With().Str("sandbox_id", cfg.sandboxID).Str("creation_path", cfg.creationPath())
	if cfg.accessor != "" {
		lc = lc.Str("accessor", cfg.accessor)
	}
	log = lc.Logger()

	// Check the local side before spending the token.
	var pending *pendingFile
	var workload string
	switch cmd.name {
	case "write":
		if pending, err = createPending(cmd.out); err != nil {
			log.Error().Int("exit", exitUsage).Str("error", err.Error()).Msg("configuration error")
			return fail(exitUsage, err, "configuration error")
		}
		defer pending.abort()
	case "exec":
		if workload, err = exec.LookPath(cmd.argv[0]); err != nil {
			log.Error().Int("exit", exitUsage).Str("error", err.Error()).Msg("workload command not found")
			return fail(exitUsage, err, "workload command not found")
		}
	}

	// The CA bundle of an egress bundle, also before the token is spent: a
	// --ca-out that cannot be written is a configuration error; the
	// default's failure matters only if the bundle turns out to need it.
	caPath := cmd.caOut
	if caPath == "" {
		caPath = defaultCAOut(cmd, cfg.sandboxID, getenv)
	}
	ca := createPendingCA(caPath)
	defer ca.abort()
	if ca.err != nil && cmd.caOut != "" {
		log.Error().Int("exit", exitUsage).Str("error", ca.err.Error()).Msg("configuration error")
		return fail(exitUsage, ca.err, "configuration error")
	}

	res, err := bootstrap(ctx, cfg)
	if err != nil {
		logFailure(log, cfg, res, err)
		return err
	}
	egress, roots, err := applyEgressCA(res.env, ca, getenv)
	if err != nil {
		f := fail(exitFailure, err, "CA bundle not written (the token is spent)")
		logFailure(log, cfg, res, f)
		return f
	}
	ok := log.Info().Strs("names", slices.Sorted(maps.Keys(res.env))).Int("vault_calls", res.vaultCalls).
		Str("token_created", res.creationTime)
	if egress {
		ok = ok.Str("delivery", "egress").Str("ca_out", caPath).Bool("system_roots", roots)
	}
	if res.tokenFile != "" {
		ok = ok.Str("token_file", res.tokenFile)
	}
	switch cmd.name {
	case "write":
		if err := pending.commit(res.env); err != nil {
			f := fail(exitFailure, err, "env file not written (the token is spent)")
			logFailure(log, cfg, res, f)
			return f
		}
		ok.Int("exit", exitOK).Str("out", cmd.out).Msg("bootstrap complete: env file written")
		return nil
	default: // exec
		ok.Str("workload", workload).Msg("bootstrap complete: starting workload")
		code, err := runChild(workload, cmd.argv, childEnv(os.Environ(), res.env), stdout, stderr)
		if err != nil {
			f := fail(exitFailure, err, "workload did not start (the token is spent)")
			logFailure(log, cfg, res, f)
			return f
		}
		log.Info().Int("exit", code).Msg("workload exited")
		if code != 0 {
			return &failure{code: code, msg: "workload exited"}
		}
		return nil
	}
}

// logFailure writes the one line for a failed run. Exit 4 and 5 are alerts.
func logFailure(log zerolog.Logger, cfg config, res bootResult, err error) {
	code := exitCode(err)
	ev := log.Error().Int("exit", code).Int("vault_calls", res.vaultCalls)
	if code == exitTokenDead || code == exitForged {
		ev = ev.Bool("alert", true)
	}
	if res.creationTime != "" {
		ev = ev.Str("token_created", res.creationTime)
	}
	if res.tokenFile != "" {
		ev = ev.Str("token_file", res.tokenFile)
	}
	var f *failure
	if errors.As(err, &f) {
		if f.cause != nil {
			ev = ev.Str("cause", redact(f.cause.Error(), cfg.token))
		}
		ev.Msg(f.msg)
		return
	}
	ev.Str("cause", redact(err.Error(), cfg.token)).Msg("failed")
}

// redact removes the token from s: causes are built without it, this is a
// second line of defence.
func redact(s, token string) string {
	if token == "" {
		return s
	}
	return strings.ReplaceAll(s, token, "[token redacted]")
}
