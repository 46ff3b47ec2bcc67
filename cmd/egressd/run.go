package main

import (
	"context"
	"io"

	"github.com/acme/secretsbroker/internal/envflag"
)

const usage = `usage: egressd <command> [flags]

commands:
  serve     run the egress proxy
  init-ca   write a new interception CA (certificate and key), unless one is there

Run "egressd <command> -h" for the flags; every flag has an environment twin.
"egressd --version" prints the version, commit and Go version.`

// run is egressd's whole program, callable in-process by tests.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return envflag.Dispatch("egressd", usage, args, stdout, stderr,
		envflag.Command{Name: "serve", Run: func(args []string) error { return serve(ctx, args, getenv, stdout, stderr) }},
		envflag.Command{Name: "init-ca", Run: func(args []string) error { return initCA(ctx, args, getenv, stdout) }},
	)
}
