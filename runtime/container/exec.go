package container

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shepherd-lab/shepherd/runtime/cgroups"
)

// Exec runs a further process in a running container, for exec probes,
// exec lifecycle hooks and `kubectl exec`:
//
//	runtime ──exec (into the container's cgroup)──▶ exec stage ──fork (container's namespaces, root, credentials)──▶ execve the command
//
// The exec stage is the shim again, in the host's PID namespace. On one
// locked OS thread it joins the namespaces of the container's first
// process with a single setns on that process's pidfd (5.8+), takes its
// root, resolves the user and drops privileges exactly as init does, then
// forks and execs the command from that thread: a child inherits the
// calling thread's namespaces (setns(CLONE_NEWPID) only decides where
// children are born), root, credentials, capabilities, no_new_privs and
// seccomp filter. The stage stays outside as the command's parent, waits
// for it and reports how it ended; no Go code runs in the container's PID
// namespace, and the command is the only process added there.
//
// A Go process cannot normally join a mount namespace: setns refuses a
// thread that shares its filesystem context (root, cwd), and every Go
// thread does. unshare(CLONE_FS) first gives the locked thread its own
// copy, after which it can. That avoids the alternative of entering the
// container through util-linux's nsenter and exec'ing the shim again
// inside: a second process start, a dependency on the host's util-linux,
// and the shim's (host) executable running inside the container's PID
// namespace where the container's root could reach /proc/<pid>/exe. The
// Go runtime keeps the locked thread's odd state to itself: threads it
// needs later are cloned from a clean template thread.
//
// The stage is born in the container's cgroup (CLONE_INTO_CGROUP), so the
// command is too, and it counts against the container's limits like the
// container's own processes. The command gets a session of its own (no
// controlling terminal of the caller's can reach the container), and on
// cancellation every process of that session is killed; a process that
// leaves the session (setsid, daemons) is not followed.

// ErrNotRunning is returned by Exec for a container whose process is not
// running (created and not started, exited, or gone).
var ErrNotRunning = errors.New("container is not running")

const (
	// execKillGrace bounds how long an exec stage may take to kill and
	// reap its command after cancellation before it is killed itself.
	execKillGrace = 5 * time.Second
	// execOutputDelay is how long Exec waits, after the command exits,
	// for stdout and stderr to close: a process it left running in the
	// background may hold them open for ever.
	execOutputDelay = 500 * time.Millisecond
	// execNamespaces are the container's namespaces an exec joins; the
	// user namespace is the host's for every container.
	execNamespaces = unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWNET |
		unix.CLONE_NEWIPC | unix.CLONE_NEWUTS | unix.CLONE_NEWCGROUP
)

// Exec runs p inside the running container id, as the container's own
// process runs: in all its namespaces (mount, PID, network, IPC, UTS,
// cgroup) and cgroup, with its root filesystem as root, and with the same
// privilege dropping as init (see dropPrivileges).
//
// What p leaves unset comes from the container's Spec: the user (when
// User, UID and GID are all unset; AdditionalGids when nil), the
// capabilities (when CapAdd and CapDrop are both nil; a privileged
// container gets them all), the working directory (when Cwd is ""; it
// must exist). no_new_privs is set when p or the container's process asks
// for it; seccomp is the container's. The environment is p.Env only, plus
// PATH, HOSTNAME and HOME defaults as for the container's process. Stdin
// is /dev/null; stdout and stderr are pipes copied to the writers (nil
// discards), never the writers' own files; every other descriptor is
// closed.
//
// Exec returns the command's exit code, 128+n when signal n killed it.
// When ctx ends first, the command and every process of its session are
// killed, and ctx's error is returned wrapped. Exec into an unknown
// container returns an error wrapping ErrNotFound; into one that is not
// running, ErrNotRunning. A command that cannot be started (an unknown
// user or executable) is an error, not an exit code. The code is -1 with
// every error.
func (r *Runtime) Exec(ctx context.Context, id string, p Process, stdout, stderr io.Writer) (int, error) {
	if err := validateExecProcess(&p); err != nil {
		return -1, fmt.Errorf("exec in container %q: %w", id, err)
	}
	st, err := r.State(id)
	if err != nil {
		return -1, err
	}
	if st.Status != StatusRunning {
		return -1, fmt.Errorf("exec in container %q (%s): %w", id, st.Status, ErrNotRunning)
	}
	if err := ctx.Err(); err != nil {
		return -1, fmt.Errorf("exec %s in container %q: %w", p.Args[0], id, err)
	}
	spec, err := readSpec(r.dir(id))
	if err != nil {
		return -1, fmt.Errorf("exec in container %q: %w", id, err)
	}
	req := execRequest{
		Pid: st.Pid, PidStart: st.PidStart,
		Process:    execProcess(&spec.Process, p),
		Privileged: spec.Privileged, Seccomp: spec.Seccomp,
	}
	code, err := r.exec(ctx, st, &req, stdout, stderr)
	if err != nil {
		if !errors.Is(err, ctx.Err()) && !st.alive() {
			// The container's process ended before the stage could
			// join it (setns on a dead pidfd fails with ESRCH).
			err = fmt.Errorf("%w: %w", ErrNotRunning, err)
		}
		return -1, fmt.Errorf("exec %s in container %q: %w", p.Args[0], id, err)
	}
	return code, nil
}

func validateExecProcess(p *Process) error {
	var errs []string
	if len(p.Args) == 0 || p.Args[0] == "" {
		errs = append(errs, "args: a command is required")
	}
	if p.Cwd != "" && !path.IsAbs(p.Cwd) {
		errs = append(errs, fmt.Sprintf("cwd %q: must be absolute", p.Cwd))
	}
	for _, c := range append(append([]string(nil), p.CapAdd...), p.CapDrop...) {
		if _, ok := capabilityByName(c); !ok && !strings.EqualFold(c, "ALL") {
			errs = append(errs, fmt.Sprintf("capability %q: unknown", c))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(errs, "; "))
	}
	return nil
}

// execProcess is p with what it leaves unset taken from the container's
// process c (see Exec).
func execProcess(c *Process, p Process) Process {
	if p.User == "" && p.UID == nil && p.GID == nil {
		p.User, p.UID, p.GID = c.User, c.UID, c.GID
	}
	if p.AdditionalGids == nil {
		p.AdditionalGids = c.AdditionalGids
	}
	if p.CapAdd == nil && p.CapDrop == nil {
		p.CapAdd, p.CapDrop = c.CapAdd, c.CapDrop
	}
	if p.Cwd == "" {
		p.Cwd = c.Cwd
	}
	p.NoNewPrivileges = p.NoNewPrivileges || c.NoNewPrivileges
	return p
}

// execRequest is what the runtime sends an exec stage on its job pipe:
// one JSON line. The pipe then stays open; EOF (the runtime cancelled, or
// died) makes the stage kill the command.
type execRequest struct {
	// Pid and PidStart name the container's first process on the host,
	// whose namespaces and root the command gets.
	Pid      int    `json:"pid"`
	PidStart uint64 `json:"pidStart"`
	// Process is complete: the container's Spec has filled it in.
	Process    Process `json:"process"`
	Privileged bool    `json:"privileged,omitempty"`
	Seccomp    string  `json:"seccomp,omitempty"`
}

// execResult is the exec stage's one line on its sync pipe.
type execResult struct {
	ExitCode int    `json:"exitCode"`
	Signal   string `json:"signal,omitempty"`
	// Killed: the stage killed the command because it was cancelled.
	Killed bool `json:"killed,omitempty"`
	// Error: the command could not be started.
	Error string `json:"error,omitempty"`
}

// exec starts the exec stage for req and waits for its result.
func (r *Runtime) exec(ctx context.Context, st *State, req *execRequest, stdout, stderr io.Writer) (int, error) {
	syncR, syncW, err := os.Pipe()
	if err != nil {
		return -1, err
	}
	defer syncR.Close()
	jobR, jobW, err := os.Pipe()
	if err != nil {
		syncW.Close()
		return -1, err
	}
	defer jobW.Close()
	cmd := exec.Command(r.shim)
	cmd.Args = []string{"shepherd-exec", st.ID}
	cmd.Env = []string{envStage + "=" + stageExec}
	// Always pipes: os/exec would hand an *os.File itself to the stage
	// and so to the command, and a host file or terminal reached that way
	// can be reopened through /proc/self/fd/1 (or TIOCSTI'd).
	if stdout != nil {
		cmd.Stdout = writerOnly{stdout}
	}
	if stderr != nil {
		cmd.Stderr = writerOnly{stderr}
	}
	cmd.ExtraFiles = []*os.File{syncW, jobR} // fds 3 and 4
	cmd.WaitDelay = execOutputDelay
	// A session of its own: a terminal's Ctrl-C reaches the caller, which
	// cancels ctx, and never kills the stage without its command.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if st.Cgroup != "" {
		fd, err := (&cgroups.Cgroup{Path: st.Cgroup, Rel: st.Cgroup}).OpenDir()
		if err != nil {
			syncW.Close()
			jobR.Close()
			return -1, err
		}
		defer fd.Close()
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = int(fd.Fd())
	}
	err = cmd.Start()
	syncW.Close()
	jobR.Close()
	if err != nil {
		return -1, fmt.Errorf("start exec stage %s: %w", r.shim, err)
	}
	b, _ := json.Marshal(req)
	if _, err := jobW.Write(append(b, '\n')); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return -1, fmt.Errorf("hand the command to the exec stage: %w", err)
	}

	finished := make(chan struct{})
	var watcher sync.WaitGroup
	watcher.Add(1)
	go func() {
		defer watcher.Done()
		select {
		case <-finished:
		case <-ctx.Done():
			jobW.Close() // the stage kills the command's session
			select {
			case <-finished:
			case <-time.After(execKillGrace):
				cmd.Process.Kill()
			}
		}
	}()
	// The stage writes one line, then exits; EOF comes when it has (the
	// command does not inherit the pipe).
	var res execResult
	haveResult := false
	sc := bufio.NewScanner(syncR)
	for sc.Scan() {
		if json.Unmarshal(sc.Bytes(), &res) == nil {
			haveResult = true
		}
	}
	waitErr := cmd.Wait()
	close(finished)
	watcher.Wait()

	switch {
	case res.Killed || (!haveResult && ctx.Err() != nil):
		if err := ctx.Err(); err != nil {
			return -1, err
		}
		return -1, errors.New("killed: the exec stage was signalled")
	case !haveResult:
		if waitErr == nil {
			waitErr = errors.New("no result")
		}
		return -1, fmt.Errorf("exec stage failed: %w", waitErr)
	case res.Error != "":
		return -1, errors.New(res.Error)
	}
	return res.ExitCode, nil
}

// execMain is the exec stage: the runtime's child in the host's PID
// namespace and the container's cgroup, with the sync pipe (its result)
// at fd 3 and the job pipe (the request, then EOF to cancel) at fd 4.
func execMain() int {
	// Namespaces, root and credentials change on this thread only; it is
	// never unlocked, so it dies with the process and no other goroutine
	// ever runs on it.
	runtime.LockOSThread()
	// Descriptors a runtime's starter left open stay out of the
	// container, as with the monitor; the two pipes close on exec.
	unix.CloseRange(jobFd+1, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	unix.CloseOnExec(syncFd)
	unix.CloseOnExec(jobFd)
	syncW := os.NewFile(syncFd, "sync")
	job := bufio.NewReader(os.NewFile(jobFd, "job"))
	line, err := job.ReadBytes('\n')
	if err != nil {
		return 2 // cancelled before it began
	}
	var req execRequest
	if err := json.Unmarshal(line, &req); err != nil {
		writeLine(syncW, execResult{Error: "exec request: " + err.Error()})
		return 2
	}

	c := &execChild{}
	// The runtime's cancellation is EOF on the job pipe (also when the
	// runtime dies); a signal to the stage means the same. Caught, not
	// ignored: the command must not inherit an ignored disposition.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGPIPE)
	go func() {
		for s := range sigs {
			if s != syscall.SIGPIPE {
				c.cancel()
			}
		}
	}()
	go func() {
		io.Copy(io.Discard, job)
		c.cancel()
	}()

	pid, err := startInContainer(&req)
	if err != nil {
		writeLine(syncW, execResult{Error: err.Error()})
		return 1
	}
	c.started(pid)
	res := c.wait()
	writeLine(syncW, res)
	return 0
}

// startInContainer moves the calling (locked) thread into the container
// and forks the command from it.
func startInContainer(req *execRequest) (int, error) {
	if err := enterContainer(req.Pid, req.PidStart); err != nil {
		return 0, err
	}
	spec := &Spec{Process: req.Process, Privileged: req.Privileged, Seccomp: req.Seccomp}
	argv0, env, id, err := prepareProcess(spec)
	if err != nil {
		return 0, err
	}
	// No process may open this one's /proc files (its exe is the shim,
	// a host file): once the credentials drop, the container's own
	// processes would pass the ptrace access check. The forked child
	// shares this memory (vfork) until it execs, and with it the flag;
	// execve gives the command its own.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return 0, &stageError{"set non-dumpable", err}
	}
	if err := dropPrivileges(spec, id); err != nil {
		return 0, err
	}
	// Only the stage's stdin (/dev/null), stdout and stderr are passed;
	// everything else the stage holds closes on exec.
	pid, err := syscall.ForkExec(argv0, spec.Process.Args, &syscall.ProcAttr{
		Env:   env,
		Files: []uintptr{0, 1, 2},
		// Not Pdeathsig: Go's child checks it against getppid, which
		// is 0 across PID namespaces, and would kill itself.
		Sys: &syscall.SysProcAttr{Setsid: true},
	})
	if err != nil {
		return 0, fmt.Errorf("exec %s: %w", spec.Process.Args[0], err)
	}
	return pid, nil
}

// enterContainer joins the namespaces of the container's first process
// and takes its root directory, on the calling thread.
func enterContainer(pid int, start uint64) error {
	pfd, err := pidfd(pid, start)
	if err != nil {
		return &stageError{"find the container's process", err}
	}
	defer unix.Close(pfd)
	root, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/root", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &stageError{"open the container's root", err}
	}
	defer unix.Close(root)
	// The root was opened by pid: it is the container's if the pidfd's
	// process is still there (its pid then cannot have been reused).
	if err := unix.PidfdSendSignal(pfd, 0, nil, 0); err != nil {
		return &stageError{"find the container's process", err}
	}
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return &stageError{"unshare filesystem context", err}
	}
	if err := unix.Setns(pfd, execNamespaces); err != nil {
		return &stageError{"join the container's namespaces", err}
	}
	if err := unix.Fchdir(root); err != nil {
		return &stageError{"enter the container's root", err}
	}
	if err := unix.Chroot("."); err != nil {
		return &stageError{"chroot to the container's root", err}
	}
	return nil
}

// execChild is the exec stage's command, killed on cancellation. The
// command is reaped only after any kill: while it is an unreaped zombie,
// its pid — the id of its session and process group — names no other
// process, so the kill cannot reach a stranger.
type execChild struct {
	mu        sync.Mutex
	pid       int // 0 until started
	reaped    bool
	cancelled bool
	killed    bool
}

func (c *execChild) cancel() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cancelled = true
	if c.pid != 0 && !c.reaped && !c.killed {
		c.killed = true
		killSession(c.pid)
	}
}

func (c *execChild) started(pid int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pid = pid
	if c.cancelled {
		c.killed = true
		// Not on this (locked) thread: its /proc is the container's.
		done := make(chan struct{})
		go func() {
			defer close(done)
			killSession(pid)
		}()
		<-done
	}
}

// wait waits for the command to exit without reaping it, then (once no
// kill is under way) reaps it and says how it ended.
func (c *execChild) wait() execResult {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, c.pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			break
		}
	}
	c.mu.Lock()
	c.reaped = true
	killed := c.killed
	c.mu.Unlock()
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(c.pid, &ws, 0, nil)
		if err != unix.EINTR {
			break
		}
	}
	res := execResult{ExitCode: ws.ExitStatus(), Killed: killed}
	if ws.Signaled() {
		res.ExitCode = 128 + int(ws.Signal())
		res.Signal = unix.SignalName(ws.Signal())
	}
	return res
}

// killSession SIGKILLs the process group and then every process of the
// session sid, until none is left (a member may fork while the others
// die). Processes are found by their session in /proc/<pid>/stat and
// signalled through a pidfd opened before the session is checked again.
// It runs on a thread in the host's namespaces (not the stage's locked
// one), so pids are the host's.
func killSession(sid int) {
	unix.Kill(-sid, unix.SIGKILL)
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		members := sessionMembers(sid)
		if len(members) == 0 {
			return
		}
		for _, pid := range members {
			fd, err := unix.PidfdOpen(pid, 0)
			if err != nil {
				continue
			}
			if s, live := procSession(pid); live && s == sid {
				unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
			}
			unix.Close(fd)
		}
		time.Sleep(time.Millisecond)
	}
}

// sessionMembers lists the live processes of session sid.
func sessionMembers(sid int) []int {
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	var out []int
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		if s, live := procSession(pid); live && s == sid {
			out = append(out, pid)
		}
	}
	return out
}

// procSession reads the session (field 6) of /proc/<pid>/stat, and
// whether the process is alive (not a zombie).
func procSession(pid int) (sid int, live bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state), f[3] field 6 (session).
	if len(f) < 4 || f[0] == "Z" || f[0] == "X" {
		return 0, false
	}
	sid, err = strconv.Atoi(f[3])
	return sid, err == nil
}

// writerOnly hides everything but Write, *os.File's Fd in particular.
type writerOnly struct{ io.Writer }

func writeLine(w io.Writer, v any) {
	b, _ := json.Marshal(v)
	w.Write(append(b, '\n'))
}
