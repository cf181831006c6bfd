package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Status is a container's life-cycle stage.
type Status string

const (
	// StatusCreating: Create has not finished (or the runtime died in it).
	StatusCreating Status = "creating"
	// StatusCreated: the root filesystem is ready; init waits for Start.
	StatusCreated Status = "created"
	StatusRunning Status = "running"
	StatusExited  Status = "exited"
	// StatusUnknown: neither the container nor its monitor is alive, and
	// no exit was recorded (the monitor was killed, or the host rebooted).
	StatusUnknown Status = "unknown"
)

// State is what the runtime knows of a container: state.json (written by
// the runtime) combined with exit.json (written by the monitor) and a look
// at the live processes.
type State struct {
	ID     string            `json:"id"`
	Image  string            `json:"image,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
	Status Status            `json:"status"`
	// Pid is the container's first process on the host; PidStart its
	// start time in clock ticks since boot, so a recycled pid is never
	// mistaken for it. The same for the monitor.
	Pid          int    `json:"pid"`
	PidStart     uint64 `json:"pidStart"`
	MonitorPid   int    `json:"monitorPid"`
	MonitorStart uint64 `json:"monitorStart"`

	CreatedAt time.Time `json:"createdAt"`
	StartedAt time.Time `json:"startedAt,omitempty"`
	LogPath   string    `json:"logPath"`

	// Cgroup is the container's cgroup directory, "" when it has none;
	// CgroupUnavailable says why not, CgroupSkipped which limits the host
	// could not enforce and why.
	Cgroup            string            `json:"cgroup,omitempty"`
	CgroupUnavailable string            `json:"cgroupUnavailable,omitempty"`
	CgroupSkipped     map[string]string `json:"cgroupSkipped,omitempty"`

	// Exit is set once the container has exited.
	Exit *ExitStatus `json:"-"`
}

func (r *Runtime) saveState(st *State) error {
	return writeJSONAtomic(filepath.Join(r.dir(st.ID), stateFile), st)
}

func loadState(dir string) (*State, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, stateFile), err)
	}
	if ex, err := readExit(dir); err == nil {
		st.Exit = ex
		st.Status = StatusExited
		return &st, nil
	}
	if !st.alive() && !sameProcess(st.MonitorPid, st.MonitorStart) {
		// The monitor writes exit.json before it exits; look again in
		// case it did so since the first look.
		if ex, err := readExit(dir); err == nil {
			st.Exit, st.Status = ex, StatusExited
		} else {
			st.Status = StatusUnknown
		}
	}
	return &st, nil
}

func readExit(dir string) (*ExitStatus, error) {
	b, err := os.ReadFile(filepath.Join(dir, exitFile))
	if err != nil {
		return nil, err
	}
	var ex ExitStatus
	if err := json.Unmarshal(b, &ex); err != nil {
		return nil, err
	}
	return &ex, nil
}

func (st *State) alive() bool { return sameProcess(st.Pid, st.PidStart) }

// processStartTime reads field 22 of /proc/<pid>/stat.
func processStartTime(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces and parentheses; the
	// fields after its last ')' are plain.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("malformed stat")
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); starttime is field 22.
	if len(f) < 20 {
		return 0, errors.New("malformed stat")
	}
	if f[0] == "Z" || f[0] == "X" {
		return 0, errors.New("process has exited")
	}
	return strconv.ParseUint(f[19], 10, 64)
}

func sameProcess(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	got, err := processStartTime(pid)
	return err == nil && got == start
}

// pidfd opens a pidfd for pid if it is still the process that started at
// start. The check comes after the open, so the fd cannot refer to a
// recycled pid.
func pidfd(pid int, start uint64) (int, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return -1, err
	}
	if got, err := processStartTime(pid); err != nil || got != start {
		unix.Close(fd)
		return -1, unix.ESRCH
	}
	return fd, nil
}

func signalProcess(pid int, start uint64, sig syscall.Signal) error {
	fd, err := pidfd(pid, start)
	if err != nil {
		return fmt.Errorf("process %d: %w", pid, err)
	}
	defer unix.Close(fd)
	return unix.PidfdSendSignal(fd, sig, nil, 0)
}

// waitProcess blocks until the process has exited (or was already gone).
func waitProcess(ctx context.Context, pid int, start uint64) error {
	fd, err := pidfd(pid, start)
	if err != nil {
		return nil // already gone
	}
	return waitPidfd(ctx, fd)
}

// waitPidfd blocks until the process behind the pidfd fd has exited, and
// closes fd. It holds no OS thread while it waits: the pidfd, made
// non-blocking, is registered with Go's netpoller, which reports it
// readable when the process exits. (A kubelet waits on every running
// container this way; a blocking poll or waitid would pin a thread each.)
func waitPidfd(ctx context.Context, fd int) error {
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return err
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	exited := false
	err = rc.Read(func(uintptr) bool {
		n, _ := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 0)
		exited = n > 0
		return exited
	})
	switch {
	case exited:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		return err
	}
	return errors.New("pidfd wait ended without an exit")
}

// Spec reads back the spec a container was created with.
func (r *Runtime) Spec(id string) (*Spec, error) {
	if !validID(id) {
		return nil, fmt.Errorf("container %q: %w", id, ErrNotFound)
	}
	s, err := readSpec(r.dir(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("container %q: %w", id, ErrNotFound)
	}
	return s, err
}
