package container

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shepherd-lab/shepherd/runtime/cgroups"
	"github.com/shepherd-lab/shepherd/runtime/logs"
)

// The shim is the same executable in more roles, chosen by the
// environment it is started with:
//
//	runtime (kubelet, CLI) ──exec──▶ monitor ──clone(new namespaces, into cgroup)──▶ init ──execve──▶ the user's process
//
// The monitor is the container's parent for its whole life: it copies the
// container's stdout and stderr into the CRI log file, waits for it, and
// writes exit.json. It runs in its own session, so the runtime can exit or
// restart without the container noticing. The init stage runs inside the
// new namespaces, builds the root filesystem, waits for Start, drops
// privileges and execs the user's process, which becomes PID 1: no Go
// runtime is left in the container. The exec stage (exec.go) runs a
// further process in a running container for Runtime.Exec; the sandbox
// stage (sandbox.go) holds a pod's new namespaces while they are mounted.
const (
	envStage = "_SHEPHERD_SHIM_STAGE"
	envDir   = "_SHEPHERD_SHIM_DIR"

	stageMonitor = "monitor"
	stageInit    = "init"
	stageSandbox = "sandbox"
	stageExec    = "exec"

	// syncFd is the pipe on which the monitor and init report to the runtime.
	syncFd = 3
	// jobFd is the pipe on which the runtime tells a monitor which
	// container to run: one JSON line. A monitor may be started ahead
	// and wait there (Config.SpareMonitor); EOF before a job means it is
	// not needed.
	jobFd = 4
)

// job is what a monitor is asked to run.
type job struct {
	Dir string `json:"dir"`
	// Cgroup is the container's cgroup directory, "" for none.
	Cgroup string `json:"cgroup,omitempty"`
}

// syncMsg is one line on the sync pipe.
type syncMsg struct {
	Pid   int    `json:"pid,omitempty"`   // from the monitor: init's host pid
	Ready bool   `json:"ready,omitempty"` // from init: set up, waiting for Start
	Error string `json:"error,omitempty"` // from either: the stage failed
}

// ShimMain runs the monitor, init, sandbox or exec stage when this process
// was started as one, and never returns then; otherwise it returns at
// once. Every binary that may serve as a runtime's ShimPath
// (shepherd-shim, shepherd-kubelet, test binaries via TestMain) calls it
// first thing in main.
func ShimMain() {
	switch os.Getenv(envStage) {
	case stageMonitor:
		os.Exit(monitorMain())
	case stageInit:
		initMain(os.Getenv(envDir)) // execs or exits
		os.Exit(1)
	case stageSandbox:
		hostname := ""
		if len(os.Args) > 1 {
			hostname = os.Args[1]
		}
		os.Exit(sandboxMain(hostname))
	case stageExec:
		os.Exit(execMain())
	}
}

func writeSync(w io.Writer, m syncMsg) {
	b, _ := json.Marshal(m)
	w.Write(append(b, '\n'))
}

// ExitStatus is how a container ended; the monitor writes it to exit.json.
type ExitStatus struct {
	ExitCode   int       `json:"exitCode"`
	Signal     string    `json:"signal,omitempty"`
	OOMKilled  bool      `json:"oomKilled,omitempty"`
	FinishedAt time.Time `json:"finishedAt"`
	// Reason explains an exit the container did not cause itself (the init
	// stage failed, say).
	Reason string `json:"reason,omitempty"`
}

func monitorMain() int {
	// Nothing the runtime's starter left open may reach the container:
	// every inherited descriptor but the sync and job pipes is closed
	// on exec (Go passes ExtraFiles on explicitly).
	unix.CloseRange(jobFd+1, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	// The runtime's terminal and signals are not the container's. They
	// are caught, not ignored: an ignored disposition would be inherited
	// through exec by the container's process.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGPIPE)
	go func() {
		for range sigs {
		}
	}()
	var j job
	jobR := os.NewFile(jobFd, "job")
	line, err := bufio.NewReader(jobR).ReadBytes('\n')
	jobR.Close()
	if err != nil {
		return 0 // released unused
	}
	if err := json.Unmarshal(line, &j); err != nil {
		return 2
	}
	dir := j.Dir
	syncW := os.NewFile(syncFd, "sync")
	fail := func(err error) int {
		writeSync(syncW, syncMsg{Error: err.Error()})
		writeExit(dir, ExitStatus{ExitCode: 128, Reason: err.Error(), FinishedAt: time.Now()})
		return 1
	}
	spec, err := readSpec(dir)
	if err != nil {
		return fail(err)
	}
	logPath := spec.LogPath
	if logPath == "" {
		logPath = filepath.Join(dir, "container.log")
	}
	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fail(fmt.Errorf("open log: %w", err))
	}
	defer logFile.Close()
	outR, outW, err := os.Pipe()
	if err != nil {
		return fail(err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		return fail(err)
	}
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		return fail(err)
	}
	self, err := os.Executable()
	if err != nil {
		return fail(err)
	}
	cmd := exec.Command(self)
	cmd.Args = []string{"shepherd-init", spec.ID}
	cmd.Env = []string{envStage + "=" + stageInit, envDir + "=" + dir}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devNull, outW, errW
	cmd.ExtraFiles = []*os.File{syncW}
	flags := uintptr(unix.CLONE_NEWPID | unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP)
	if spec.Sandbox == "" {
		flags |= unix.CLONE_NEWNET | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: flags}
	var cg *cgroups.Cgroup
	if j.Cgroup != "" {
		// The runtime created the cgroup; clone3 puts init straight into
		// it, so limits hold from init's first instruction on.
		cg = &cgroups.Cgroup{Path: j.Cgroup}
		fd, err := cg.OpenDir()
		if err != nil {
			return fail(fmt.Errorf("open cgroup: %w", err))
		}
		defer fd.Close()
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = int(fd.Fd())
	}
	if err := cmd.Start(); err != nil {
		return fail(fmt.Errorf("start init: %w", err))
	}
	outW.Close()
	errW.Close()
	devNull.Close()
	writeSync(syncW, syncMsg{Pid: cmd.Process.Pid})
	syncW.Close()

	lw := logs.NewWriter(logFile)
	var copying sync.WaitGroup
	for _, s := range []struct {
		r    *os.File
		name string
	}{{outR, logs.Stdout}, {errR, logs.Stderr}} {
		copying.Add(1)
		go func() {
			defer copying.Done()
			w := lw.Stream(s.name)
			io.Copy(w, s.r)
			w.Close()
			s.r.Close()
		}()
	}
	waitErr := cmd.Wait()
	// PID 1's exit kills the rest of its namespace, so the pipes close.
	copying.Wait()
	st := ExitStatus{FinishedAt: time.Now()}
	var ee *exec.ExitError
	switch {
	case waitErr == nil:
	case errors.As(waitErr, &ee):
		ws := ee.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			st.Signal = unix.SignalName(ws.Signal())
			st.ExitCode = 128 + int(ws.Signal())
		} else {
			st.ExitCode = ws.ExitStatus()
		}
	default:
		st.ExitCode, st.Reason = 255, waitErr.Error()
	}
	if b, err := os.ReadFile(filepath.Join(dir, initErrorFile)); err == nil && len(b) > 0 {
		st.Reason = string(b)
	}
	if cg != nil {
		if n, err := cg.OOMKills(); err == nil && n > 0 {
			st.OOMKilled = true
		}
	}
	if err := writeExit(dir, st); err != nil {
		return 1
	}
	return 0
}

// initErrorFile is where the init stage leaves its error when it fails
// after the sync pipe is gone (an execve failure after Start, say).
const initErrorFile = "init-error"

func writeExit(dir string, st ExitStatus) error {
	return writeJSONAtomic(filepath.Join(dir, exitFile), st)
}

func writeJSONAtomic(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func readSpec(dir string) (*Spec, error) {
	b, err := os.ReadFile(filepath.Join(dir, configFile))
	if err != nil {
		return nil, err
	}
	var s Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", configFile, err)
	}
	return &s, nil
}
