package main

import (
	"os"
	"runtime/pprof"
)

// cpuProfileEnv names a file for a CPU profile of the whole serve run,
// written at shutdown. Meant for benchmarks; unset (the default) means no
// profiling at all. It is an environment variable only, not a flag.
const cpuProfileEnv = "EGRESS_CPUPROFILE"

// startCPUProfile starts profiling into path (nothing when path is empty)
// and returns the function that stops it and closes the file.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, usagef("%s %q: %v", cpuProfileEnv, path, err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, usagef("%s: %v", cpuProfileEnv, err)
	}
	return func() { pprof.StopCPUProfile(); _ = f.Close() }, nil
}
