// Command brokerctl is the command-line client of the secrets broker.
//
// User commands (secrets, presets) talk to the broker's HTTP API with the
// user's API key (BROKER_URL, BROKER_API_KEY). Operator commands (apikeys)
// talk to Vault directly with the operator's VAULT_ADDR and VAULT_TOKEN.
// Secret values are read from stdin or a no-echo prompt, never from the
// command line, and are never printed.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}
