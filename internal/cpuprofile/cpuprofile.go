// Package cpuprofile writes a CPU profile of a whole daemon run, for
// benchmarks. brokerd reads BROKER_CPUPROFILE and egressd EGRESS_CPUPROFILE:
// environment variables only, not flags, unset (the default) meaning no
// profiling at all.
package cpuprofile

import (
	"os"
	"runtime/pprof"

	"github.com/acme/secretsbroker/internal/exit"
)

// Start profiles into path (nothing when path is empty) and returns the
// function that stops profiling and closes the file. The error is a usage
// error (exit code 2) naming env, the setting path came from, and why the
// file could not be written.
func Start(env, path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, exit.Usagef("%s %q: %v", env, path, err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, exit.Usagef("%s: %v", env, err)
	}
	return func() { pprof.StopCPUProfile(); _ = f.Close() }, nil
}
