package main

import (
	"context"
	"io"

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
	return envflag.Dispatch("brokerd", usage, args, stdout, stderr,
		envflag.Command{Name: "serve", Run: func(args []string) error { return serve(ctx, args, getenv, stdout, stderr) }},
		envflag.Command{Name: "setup", Run: func(args []string) error { return setup(ctx, args, getenv, stdout, stderr) }},
	)
}
