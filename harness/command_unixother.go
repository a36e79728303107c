//go:build unix && !linux

package harness

import "syscall"

// dieWithParent: only Linux has a parent-death signal; elsewhere the
// timeout and Ctrl-C paths (which kill the whole group) are all there is.
func dieWithParent(*syscall.SysProcAttr) {}
