// Command sandbox-init runs first in a sandbox: it looks up its single-use
// bootstrap token, checks that the broker minted it for this sandbox, unwraps
// it and hands the env vars to the workload, as an env file (write) or by
// running the workload with them (exec). See usage for the exit codes.
package main

import (
	"context"
	"os"
)

func main() {
	err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	os.Exit(exitCode(err))
}
