// Package filelock takes advisory whole-file locks (flock(2) through
// golang.org/x/sys/unix) so that falsify processes sharing a directory
// (the conversion cache, a convert target's directory) do not write the
// same file twice or delete each other's temporary files.
//
// A lock is held by an open file descriptor and released when it is
// closed or the process dies (so a killed process never leaves a stale
// lock, unlike a lock file whose existence is the lock).
package filelock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Lock holds an flock on one file or directory.
type Lock struct{ f *os.File }

// Exclusive opens path (a directory, or a file it creates if missing) and
// waits for an exclusive lock on it, polling so that ctx can cancel the
// wait. The error names path.
func Exclusive(ctx context.Context, path string) (*Lock, error) {
	f, err := open(path)
	if err != nil {
		return nil, err
	}
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return &Lock{f: f}, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for the lock on %s: %w", path, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func open(path string) (*os.File, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return os.Open(path)
	}
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
}

// Unlock releases the lock.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the descriptor releases the flock
	l.f = nil
	return err
}
