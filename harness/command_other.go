//go:build !unix

package harness

import "os/exec"

// ownProcessGroup: without Unix process groups only the shell is killed
// at the timeout; WaitDelay still bounds the wait for its output.
func ownProcessGroup(cmd *exec.Cmd) {}
