// Command brokerbench measures brokerd against the Vault floor: it starts a
// real Vault (dev mode) and Redis, builds and runs brokerd as a separate
// process, drives each API operation at several concurrencies, runs the
// minimal sequence of Vault calls each operation needs (the floor) at the same
// concurrencies, and writes a table, a CSV and a chart. See docs/benchmarks.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "brokerbench:", err)
		os.Exit(1)
	}
}
