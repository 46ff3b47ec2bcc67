package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/acme/secretsbroker/internal/buildinfo"
	"github.com/acme/secretsbroker/internal/envflag"
)

const usage = `usage: brokerd <command> [flags]

commands:
  serve   run the HTTP API
  setup   configure Vault for the broker (idempotent; needs an admin token)

Run "brokerd <command> -h" for the flags; every flag has an environment twin.
"brokerd --version" prints the version, commit and Go version.`

// run is brokerd's whole program, callable in-process by tests.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return usagef("a command is required: serve or setup")
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, args[1:], getenv, stdout, stderr)
	case "setup":
		err = setup(ctx, args[1:], getenv, stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	case "--version", "-version", "version":
		fmt.Fprintln(stdout, buildinfo.String("brokerd"))
		return nil
	default:
		return usagef("unknown command %q: want serve or setup", args[0])
	}
	if errors.Is(err, envflag.ErrHelpShown) {
		return nil
	}
	return err
}
