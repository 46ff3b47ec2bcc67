package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/alecthomas/kong"

	"github.com/acme/secretsbroker/internal/buildinfo"
)

// cli is the whole command tree. Flags tagged `twin:"VAR"` default to the
// environment variable VAR (read through run's getenv, never os.Getenv).
type cli struct {
	JSON bool `name:"json" help:"Print JSON instead of human tables (the API's JSON for secrets and presets)."`

	Secrets     secretsCmd     `cmd:"" help:"Manage your secrets through the broker's API (BROKER_URL, BROKER_API_KEY)."`
	Presets     presetsCmd     `cmd:"" help:"List the provider presets, or create a secret from one (presets set PROVIDER)."`
	Runtimes    runtimesCmd    `cmd:"" help:"Provision and manage runtimes, selecting secrets by name or glob (BROKER_URL, BROKER_API_KEY)."`
	Evaluations evaluationsCmd `cmd:"" help:"Provision evaluations and read them back (BROKER_URL, BROKER_API_KEY)."`
	Completion  completionCmd  `cmd:"" help:"Print a shell completion script: bash, zsh or fish (e.g. source <(brokerctl completion bash))."`
	APIKeys     apiKeysCmd     `cmd:"" name:"apikeys" help:"Operator: manage API keys in Vault directly (VAULT_ADDR, VAULT_TOKEN)."`
	Keys        keysCmd        `cmd:"" help:"Operator: rotate the broker's transit key and rewrap stored ciphertexts (VAULT_ADDR, VAULT_TOKEN)."`
	Audit       auditCmd       `cmd:"" help:"Operator: read a Vault file audit log: timeline (audit FILE) and alerts (audit alerts FILE). See docs/audit.md."`
}

// brokerFlags say how to reach the broker's API.
type brokerFlags struct {
	URL     string        `name:"url" twin:"BROKER_URL" default:"http://127.0.0.1:8080" help:"Base URL of the broker ($BROKER_URL)."`
	APIKey  string        `name:"api-key" twin:"BROKER_API_KEY" help:"Your API key ($BROKER_API_KEY; prefer the variable: command lines are visible to other users)."`
	Timeout time.Duration `name:"timeout" default:"30s" help:"Timeout of each HTTP request."`
}

// vaultFlags say how to reach Vault as an operator.
type vaultFlags struct {
	VaultAddr  string        `name:"vault-addr" twin:"VAULT_ADDR" help:"Vault address ($VAULT_ADDR)."`
	VaultToken string        `name:"vault-token" twin:"VAULT_TOKEN" help:"Operator's Vault token ($VAULT_TOKEN; prefer the variable)."`
	KVMount    string        `name:"kv-mount" twin:"BROKER_KV_MOUNT" default:"broker" help:"The broker's KV v2 mount ($BROKER_KV_MOUNT)."`
	Timeout    time.Duration `name:"vault-timeout" default:"10s" help:"Timeout of each Vault request."`
	Verbose    bool          `name:"verbose" short:"v" help:"Log Vault client events to stderr."`
}

// app is what every command's Run receives: the parsed command line and the
// process's streams.
type app struct {
	ctx    context.Context
	cli    *cli
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

const description = `Command-line client of the secrets broker.

User commands (secrets, presets, runtimes, evaluations) call the broker's HTTP API with your API key
(BROKER_URL, BROKER_API_KEY). Secret values are read from stdin when it is not
a terminal (one trailing newline stripped unless --keep-newline), otherwise
from a prompt that does not echo; never from the command line. Values are
never printed, only their masked previews.

Operator commands (apikeys, keys) talk to Vault directly with VAULT_ADDR and
VAULT_TOKEN.

Operator command audit reads a Vault file audit log (VAULT_ADDR and
VAULT_TOKEN only for --match).

"brokerctl help [COMMAND]" is "brokerctl [COMMAND] --help"; "brokerctl --version"
prints the version, commit and Go version.

Exit codes: 0 success, 1 API, Vault or network error, 2 usage error,
3 audit alerts found (audit alerts).`

// run parses args and runs the selected command. "brokerctl --version"
// prints the build; "brokerctl help [COMMAND...]" is "brokerctl [COMMAND...]
// --help".
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) (err error) {
	if len(args) == 1 && (args[0] == "--version" || args[0] == "version") {
		// Not a kong flag: `secrets rollback --version N` has its own.
		fmt.Fprintln(stdout, buildinfo.String("brokerctl"))
		return nil
	}
	if len(args) > 0 && args[0] == "help" {
		args = append(slices.Clone(args[1:]), "--help")
	}
	var c cli
	parser, err := kong.New(&c,
		kong.Name("brokerctl"),
		kong.Description(description),
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { panic(&exitRequest{Code: code}) }),
		kong.Resolvers(envTwins(getenv)),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
	)
	if err != nil {
		return err // a bug in the command tree
	}
	kctx, err := parse(parser, args)
	if err != nil {
		return err
	}
	a := &app{ctx: ctx, cli: &c, getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	return kctx.Run(a)
}

// parse runs kong's parser, turning its exit (after --help) into an
// *exitRequest and its errors into usage errors.
func parse(parser *kong.Kong, args []string) (kctx *kong.Context, err error) {
	defer func() {
		if r := recover(); r != nil {
			ex, ok := r.(*exitRequest)
			if !ok {
				panic(r)
			}
			kctx, err = nil, ex
		}
	}()
	kctx, err = parser.Parse(args)
	if err != nil {
		var pe *kong.ParseError
		if errors.As(err, &pe) {
			return nil, &usageError{Msg: oneLine(pe.Error()) + " (see --help)"}
		}
		return nil, &usageError{Msg: oneLine(err.Error())}
	}
	return kctx, nil
}

// envTwins resolves flags tagged `twin:"VAR"` from getenv(VAR) when the
// flag is not on the command line and VAR is not empty.
func envTwins(getenv func(string) string) kong.Resolver {
	return kong.ResolverFunc(func(_ *kong.Context, _ *kong.Path, flag *kong.Flag) (any, error) {
		name := flag.Tag.Get("twin")
		if name == "" {
			return nil, nil
		}
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			return nil, nil
		}
		return v, nil
	})
}
