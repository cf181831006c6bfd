package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// killTimeout bounds how long Kill waits for the processes to be gone.
const killTimeout = 5 * time.Second

// Kill kills every process in the cgroup and its descendants with SIGKILL
// and returns once none is left, or fails after 5 s naming the survivors.
//
// With cgroup.kill (Linux 5.14) the kernel kills them all at once, forks
// in flight included. Without it Kill freezes the cgroup where the kernel
// has cgroup.freeze (so nothing forks behind its back; SIGKILL still
// reaches frozen processes), signals every process listed in the
// cgroup.procs files of the subtree until they are empty, and thaws the
// cgroup so that it can be used again.
//
// Killed processes no longer count once they have exited, before their
// parent reaps them: a cgroup with only zombies left is empty.
func (c *Cgroup) Kill() error {
	deadline := time.Now().Add(killTimeout)
	switch _, err := os.Stat(filepath.Join(c.Path, "cgroup.kill")); {
	case err == nil:
		if err := c.cgroupFS().WriteFile(filepath.Join(c.Path, "cgroup.kill"), "1"); err != nil {
			return fmt.Errorf("cgroup %q: %w", c.Rel, err)
		}
		return c.waitEmpty(deadline)
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("cgroup %q: %w", c.Rel, err)
	}
	if _, err := os.Stat(filepath.Join(c.Path, "cgroup.procs")); err != nil {
		return fmt.Errorf("cgroup %q: %w", c.Rel, err)
	}
	return c.killBySignal(deadline)
}

// killBySignal is Kill without cgroup.kill.
func (c *Cgroup) killBySignal(deadline time.Time) error {
	freeze := filepath.Join(c.Path, "cgroup.freeze")
	if c.cgroupFS().WriteFile(freeze, "1") == nil {
		// Thawing a cgroup whose processes are all gone is harmless, and
		// leaving it frozen would freeze the next process put in it.
		defer func() { _ = c.cgroupFS().WriteFile(freeze, "0") }()
	}
	for {
		pids, err := treeProcs(c.Path)
		if err != nil {
			return fmt.Errorf("cgroup %q: %w", c.Rel, err)
		}
		if len(pids) == 0 {
			return c.waitEmpty(deadline)
		}
		for _, pid := range pids {
			if err := unix.Kill(pid, unix.SIGKILL); err != nil && err != unix.ESRCH {
				return fmt.Errorf("cgroup %q: killing process %d: %w", c.Rel, pid, err)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup %q: processes %v still running %v after SIGKILL", c.Rel, pids, killTimeout)
		}
		// Give the signalled processes a moment to exit before listing again.
		soon := time.Now().Add(20 * time.Millisecond)
		if deadline.Before(soon) {
			soon = deadline
		}
		if err := c.waitEmptyUntil(soon); err == nil {
			return nil
		}
	}
}

// waitEmpty waits until cgroup.events says "populated 0" or the deadline
// passes; then it fails naming the processes left.
func (c *Cgroup) waitEmpty(deadline time.Time) error {
	if err := c.waitEmptyUntil(deadline); err != nil {
		pids, _ := treeProcs(c.Path)
		return fmt.Errorf("cgroup %q: processes %v still running %v after SIGKILL: %w", c.Rel, pids, killTimeout, err)
	}
	return nil
}

var errStillPopulated = errors.New("still populated")

// waitEmptyUntil waits until the cgroup and its descendants hold no process.
// A removed cgroup holds none.
func (c *Cgroup) waitEmptyUntil(deadline time.Time) error {
	events := filepath.Join(c.Path, "cgroup.events")
	// Look once before setting up a watch: closing an inotify instance
	// waits for an RCU grace period (10-20 ms measured), which an empty
	// cgroup, the common case, should not pay.
	if populated, err := isPopulated(events); errors.Is(err, fs.ErrNotExist) || (err == nil && !populated) {
		return nil
	}
	// The kernel signals every change of cgroup.events as a file
	// modification; without inotify, poll the file.
	notify := newFileWatch(events)
	defer notify.close()
	for {
		populated, err := isPopulated(events)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if !populated {
			return nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return errStillPopulated
		}
		// Re-read at least every 50 ms in case a notification is lost.
		notify.wait(min(left, 50*time.Millisecond))
	}
}

// isPopulated reads the "populated" key of cgroup.events.
func isPopulated(events string) (bool, error) {
	b, err := os.ReadFile(events)
	if err != nil {
		return false, err
	}
	n, err := flatKeyed(b, "populated")
	if err != nil {
		return false, fmt.Errorf("%s: %w", events, err)
	}
	return n != 0, nil
}

// fileWatch waits for modifications of one file with inotify; fd < 0 means
// inotify was unavailable and wait sleeps instead.
type fileWatch struct{ fd int }

func newFileWatch(name string) fileWatch {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return fileWatch{fd: -1}
	}
	if _, err := unix.InotifyAddWatch(fd, name, unix.IN_MODIFY); err != nil {
		unix.Close(fd)
		return fileWatch{fd: -1}
	}
	return fileWatch{fd: fd}
}

func (w fileWatch) wait(d time.Duration) {
	if w.fd < 0 {
		time.Sleep(min(d, 5*time.Millisecond))
		return
	}
	fds := []unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLIN}}
	if n, err := unix.Poll(fds, int(d.Milliseconds())+1); n > 0 && err == nil {
		// Drain the queued events; only "something changed" matters.
		var buf [4096]byte
		for {
			if n, err := unix.Read(w.fd, buf[:]); n <= 0 || err != nil {
				break
			}
		}
	}
}

func (w fileWatch) close() {
	if w.fd >= 0 {
		unix.Close(w.fd)
	}
}

// Remove kills the cgroup's processes and removes it and its descendants,
// deepest first. A cgroup that does not exist is removed already.
func (c *Cgroup) Remove() error {
	if _, err := os.Stat(filepath.Join(c.Path, "cgroup.procs")); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := c.Kill(); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := removeTree(c.cgroupFS(), c.Path, time.Now().Add(time.Second)); err != nil {
		return fmt.Errorf("cgroup %q: %w", c.Rel, err)
	}
	return nil
}

// removeTree removes the cgroup dir after its descendants. rmdir can say
// EBUSY for a moment after the last process left; it is retried until the
// deadline.
func removeTree(fsys cgroupFS, dir string, deadline time.Time) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := removeTree(fsys, filepath.Join(dir, e.Name()), deadline); err != nil {
				return err
			}
		}
	}
	for {
		err := fsys.Rmdir(dir)
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
}
