package main

import "syscall"

// sysProcAttr kills the child servers when brokerbench dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
