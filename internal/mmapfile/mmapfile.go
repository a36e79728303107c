package mmapfile

import (
	"errors"
	"fmt"
	"math"
	"os"

	"golang.org/x/sys/unix"
)

// Map maps the whole file at path read-only. An empty file gives an empty
// slice (mmap refuses length 0). Call unmap when no view into data is in
// use any more.
func Map(path string) (data []byte, unmap func() error, err error) {
	fd, err := OpenRegular(path)
	if err != nil {
		return nil, nil, err
	}
	defer fd.Close()
	st, err := fd.Stat()
	if err != nil {
		return nil, nil, err
	}
	size := st.Size()
	if size == 0 {
		return []byte{}, func() error { return nil }, nil
	}
	if size > math.MaxInt {
		return nil, nil, fmt.Errorf("%s: file too large to map (%d bytes)", path, size)
	}
	data, err = unix.Mmap(int(fd.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("mmap %s: %w", path, err)
	}
	unmapped := false
	return data, func() error {
		if unmapped {
			return errors.New("mmapfile: unmapped twice")
		}
		unmapped = true
		return unix.Munmap(data)
	}, nil
}

// OpenRegular opens path for reading and refuses anything but a regular
// file, naming what it is. The open does not block: a FIFO given as a
// model or contract path would otherwise wait forever for a writer
// (O_NONBLOCK returns at once for a FIFO and changes nothing for a
// regular file).
func OpenRegular(path string) (*os.File, error) {
	fd, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	st, err := fd.Stat()
	if err != nil {
		fd.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		fd.Close()
		return nil, fmt.Errorf("%s is not a regular file (%s)", path, fileKind(st.Mode()))
	}
	return fd, nil
}

func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeDevice != 0:
		return "a device"
	}
	return m.Type().String()
}
