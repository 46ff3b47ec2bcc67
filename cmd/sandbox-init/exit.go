package main

import (
	"errors"
	"fmt"
)

// Exit codes. 0, 2, 3, 4 and 5 are fixed by the bootstrap contract; exec
// passes the workload's own code through (128+N when it died of signal N).
const (
	exitOK          = 0
	exitFailure     = 1 // bundle unusable, env file not written, workload not started
	exitUsage       = 2 // usage or configuration error (nothing was consumed)
	exitUnreachable = 3 // Vault unreachable until the deadline
	exitTokenDead   = 4 // token expired, unknown or already used
	exitForged      = 5 // creation path mismatch: not minted by the broker for this sandbox
)

// failure ends the run with an exit code. msg is safe to log and print: it
// never holds a token or a value; cause is logged too and must be redacted.
type failure struct {
	code  int
	msg   string
	cause error
}

func (f *failure) Error() string {
	if f.cause != nil {
		return fmt.Sprintf("%s: %v", f.msg, f.cause)
	}
	return f.msg
}

func (f *failure) Unwrap() error { return f.cause }

func fail(code int, cause error, format string, args ...any) *failure {
	return &failure{code: code, msg: fmt.Sprintf(format, args...), cause: cause}
}

// exitCode maps run's error to the process exit status.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var f *failure
	if errors.As(err, &f) {
		return f.code
	}
	return exitFailure
}
