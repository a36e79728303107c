package mmapfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestFIFORefused: a named pipe given as a path is refused at once, not
// opened for a read that blocks until some writer appears.
func TestFIFORefused(t *testing.T) {
	p := filepath.Join(t.TempDir(), "pipe.gguf")
	if err := unix.Mkfifo(p, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan error, 2)
	go func() { _, err := OpenRegular(p); done <- err }()
	go func() { _, _, err := Map(p); done <- err }()
	for range 2 {
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "named pipe") || !strings.Contains(err.Error(), p) {
				t.Errorf("FIFO: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("opening a FIFO blocked")
		}
	}
	if _, _, err := Map(t.TempDir()); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("directory: %v", err)
	}
	f := filepath.Join(t.TempDir(), "x")
	os.WriteFile(f, []byte("GGUF"), 0o644)
	if fd, err := OpenRegular(f); err != nil {
		t.Errorf("regular file: %v", err)
	} else {
		fd.Close()
	}
}
