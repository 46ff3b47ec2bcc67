package main

import "github.com/acme/secretsbroker/internal/cpuprofile"

// cpuProfileEnv names a file for a CPU profile of the whole serve run,
// written at shutdown (internal/cpuprofile).
const cpuProfileEnv = "EGRESS_CPUPROFILE"

func startCPUProfile(path string) (stop func(), err error) {
	stop, err = cpuprofile.Start(cpuProfileEnv, path)
	if err != nil {
		return nil, usagef("%v", err)
	}
	return stop, nil
}
