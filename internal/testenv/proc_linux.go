package testenv

import "syscall"

// sysProcAttr makes the child die with the test binary and keeps it out of the
// terminal's process group (Ctrl-C goes to the test, which then stops the child).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}
