package main

import (
	"io"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"
)

// forwarded are the signals passed on to the workload.
var forwarded = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}

// childEnv is base minus BROKER_BOOTSTRAP_TOKEN, plus vars (which win over
// base entries of the same name).
func childEnv(base []string, vars map[string]string) []string {
	env := make([]string, 0, len(base)+len(vars))
	for _, kv := range base {
		name, _, _ := strings.Cut(kv, "=")
		if _, override := vars[name]; override || name == "BROKER_BOOTSTRAP_TOKEN" {
			continue
		}
		env = append(env, kv)
	}
	for _, name := range slices.Sorted(maps.Keys(vars)) {
		env = append(env, name+"="+vars[name])
	}
	return env
}

// runChild runs path with argv and env, forwarding SIGINT, SIGTERM, SIGHUP
// and SIGQUIT to it, and returns its exit code (128+N if it died of signal N).
// The error is only for a workload that could not be started.
func runChild(path string, argv, env []string, stdout, stderr io.Writer) (int, error) {
	cmd := &exec.Cmd{
		Path:      path,
		Args:      argv,
		Env:       env,
		Stdin:     os.Stdin,
		Stdout:    stdout,
		Stderr:    stderr,
		WaitDelay: 2 * time.Second, // when stdout is a pipe held open by a grandchild
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, forwarded...)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				_ = cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	if err != nil && cmd.ProcessState == nil {
		return 0, err
	}
	// An I/O copy error after the child ended still leaves its status known.
	return statusCode(cmd.ProcessState), nil
}

func statusCode(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}
