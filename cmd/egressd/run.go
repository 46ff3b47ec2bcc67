package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/acme/secretsbroker/internal/buildinfo"
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
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return usagef("a command is required: serve or init-ca")
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, args[1:], getenv, stdout, stderr)
	case "init-ca":
		err = initCA(ctx, args[1:], getenv, stdout)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	case "--version", "-version", "version":
		fmt.Fprintln(stdout, buildinfo.String("egressd"))
		return nil
	default:
		return usagef("unknown command %q: want serve or init-ca", args[0])
	}
	if errors.Is(err, envflag.ErrHelpShown) {
		return nil
	}
	return err
}
