package cgroups

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// cgroupFS is how the package changes a cgroup hierarchy. Reads go straight
// to the files; the changes go through here so that unit tests can run the
// same code against a fake cgroupfs in a temporary directory, with a fake that
// applies the kernel's rules (cgroup.controllers inherited from the parent's
// cgroup.subtree_control, "+cpu" writes, interface files that exist only
// with their controller).
type cgroupFS interface {
	Mkdir(dir string) error
	Rmdir(dir string) error
	// WriteFile writes data to an existing file in one write(2), as cgroupfs
	// takes each write as one command.
	WriteFile(name, data string) error
}

// kernelFS is the running kernel's cgroupfs.
type kernelFS struct{}

func (kernelFS) Mkdir(dir string) error { return os.Mkdir(dir, 0o755) }

func (kernelFS) Rmdir(dir string) error {
	if err := ignoringEINTR(func() error { return unix.Rmdir(dir) }); err != nil {
		return &fs.PathError{Op: "rmdir", Path: dir, Err: err}
	}
	return nil
}

func (kernelFS) WriteFile(name, data string) error {
	var fd int
	err := ignoringEINTR(func() (err error) {
		// No O_CREAT: a missing interface file means a missing controller or
		// cgroup, and must say ENOENT rather than create anything.
		fd, err = unix.Open(name, unix.O_WRONLY|unix.O_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return &fs.PathError{Op: "open", Path: name, Err: err}
	}
	defer unix.Close(fd)
	var n int
	err = ignoringEINTR(func() (err error) {
		n, err = unix.Write(fd, []byte(data))
		return err
	})
	if err != nil {
		return &fs.PathError{Op: "write", Path: name, Err: err}
	}
	if n != len(data) {
		return &fs.PathError{Op: "write", Path: name, Err: io.ErrShortWrite}
	}
	return nil
}

func ignoringEINTR(f func() error) error {
	for {
		if err := f(); err != unix.EINTR {
			return err
		}
	}
}

// readSet reads a space-separated list file (cgroup.controllers,
// cgroup.subtree_control) as a set.
func readSet(name string) (map[string]bool, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	set := make(map[string]bool)
	for _, f := range strings.Fields(string(b)) {
		set[f] = true
	}
	return set, nil
}

// flatKeyed returns the value of key in a flat-keyed file's contents
// ("key value" per line: cpu.stat, memory.stat, memory.events).
func flatKeyed(data []byte, key string) (uint64, error) {
	for line := range bytes.Lines(data) {
		k, v, ok := strings.Cut(strings.TrimSpace(string(line)), " ")
		if !ok || k != key {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", key, err)
		}
		return n, nil
	}
	return 0, fmt.Errorf("no %q line", key)
}

// singleValue parses a single-value file (memory.current, pids.current,
// memory.max); "max" is returned as 0.
func singleValue(data []byte) (uint64, error) {
	s := strings.TrimSpace(string(data))
	if s == "max" {
		return 0, nil
	}
	return strconv.ParseUint(s, 10, 64)
}

// readFlatKeyed reads key from the flat-keyed file name.
func readFlatKeyed(name, key string) (uint64, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return 0, err
	}
	n, err := flatKeyed(b, key)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	return n, nil
}

// readSingleValue reads the single-value file name.
func readSingleValue(name string) (uint64, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return 0, err
	}
	n, err := singleValue(b)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	return n, nil
}

// parsePids parses cgroup.procs.
func parsePids(data []byte) ([]int, error) {
	fields := strings.Fields(string(data))
	pids := make([]int, 0, len(fields))
	for _, f := range fields {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("cgroup.procs: %w", err)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}
