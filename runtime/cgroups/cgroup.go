package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// Cgroup is one cgroup below the root: a path, with no state of its own
// beyond what Create could not enforce.
type Cgroup struct {
	// Path is the cgroup's absolute directory.
	Path string
	// Rel is Path relative to the root cgroup.
	Rel string
	// Skipped maps each resource Create could not enforce (by its file,
	// e.g. "memory.max") to the reason; nil if it enforced all.
	Skipped map[string]string

	fs cgroupFS // nil is the kernel's
}

func (c *Cgroup) cgroupFS() cgroupFS {
	if c.fs == nil {
		return kernelFS{}
	}
	return c.fs
}

// OpenDir opens the cgroup's directory as an O_PATH file for clone3's
// CLONE_INTO_CGROUP (syscall.SysProcAttr's UseCgroupFD and CgroupFD). The
// caller closes it once the process has started.
func (c *Cgroup) OpenDir() (*os.File, error) {
	var fd int
	err := ignoringEINTR(func() (err error) {
		fd, err = unix.Open(c.Path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("cgroup %q: %w", c.Rel, &fs.PathError{Op: "open", Path: c.Path, Err: err})
	}
	return os.NewFile(uintptr(fd), c.Path), nil
}

// AddProc moves the process pid (all its threads) into the cgroup.
func (c *Cgroup) AddProc(pid int) error {
	if err := c.cgroupFS().WriteFile(filepath.Join(c.Path, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
		return fmt.Errorf("cgroup %q: adding process %d: %w", c.Rel, pid, err)
	}
	return nil
}

// Procs returns the processes in the cgroup itself, not in its descendants.
func (c *Cgroup) Procs() ([]int, error) {
	b, err := os.ReadFile(filepath.Join(c.Path, "cgroup.procs"))
	if err != nil {
		return nil, fmt.Errorf("cgroup %q: %w", c.Rel, err)
	}
	pids, err := parsePids(b)
	if err != nil {
		return nil, fmt.Errorf("cgroup %q: %w", c.Rel, err)
	}
	return pids, nil
}

// treeProcs returns the processes in the cgroup dir and its descendants.
func treeProcs(dir string) ([]int, error) {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil, err
	}
	pids, err := parsePids(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		more, err := treeProcs(filepath.Join(dir, e.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		pids = append(pids, more...)
	}
	return pids, nil
}
