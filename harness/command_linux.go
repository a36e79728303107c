//go:build linux

package harness

import "syscall"

// dieWithParent asks the kernel to SIGKILL the command's process when
// falsify itself dies, even by SIGKILL (which no handler of ours sees).
// It reaches the process falsify started (the shell, or what the shell
// exec'd); grandchildren in the group outlive it only if falsify is
// killed outright, since the timeout and Ctrl-C paths kill the whole group.
func dieWithParent(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
