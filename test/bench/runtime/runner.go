package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The runner is this program re-executed in a private mount namespace,
// where it unmounts the cgroup2 file system of a hybrid host so that crun
// 1.8 accepts the host ("cgroups in hybrid mode not supported"); runc runs
// there too, so both see the same cgroup layout. The namespace comes from
// os/exec (SysProcAttr.Unshareflags CLONE_NEWNS), which also makes every
// mount in it private before the runner starts, as `unshare -m
// --propagation private` would: the unmount never reaches the host. The
// runner refuses to unmount anything unless its mount namespace differs
// from its parent's.
//
// It lives as long as the measurement and times the commands it is sent,
// so neither its own start nor the protocol is in any figure. The protocol
// is JSON lines: after the runner's readyMsg, each runRequest on its stdin
// gets one execResult on its stdout. It exits at the end of its stdin.
const runnerEnv = "_SHEPHERD_BENCH_RUNTIME_RUNNER"

// readyMsg is the runner's first line.
type readyMsg struct {
	// Unmounted are the cgroup2 mount points it unmounted in its namespace.
	Unmounted []string `json:"unmounted,omitempty"`
	Err       string   `json:"err,omitempty"`
}

type runRequest struct {
	Argv []string `json:"argv"`
}

// execResult is how one timed command went.
type execResult struct {
	// Took is from just before fork to just after the command was reaped
	// and its stderr drained.
	Took   time.Duration `json:"took"`
	Exit   int           `json:"exit"`             // exit code; 128+n for signal n
	Stderr string        `json:"stderr,omitempty"` // its first maxStderr bytes
	Err    string        `json:"err,omitempty"`    // it could not be run at all
}

const maxStderr = 4096

// timedExec runs argv with stdin and stdout on /dev/null and times it.
func timedExec(argv []string) execResult {
	cmd := exec.Command(argv[0], argv[1:]...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	res := execResult{Took: time.Since(start)}
	res.Stderr = strings.TrimSpace(stderr.String())
	if len(res.Stderr) > maxStderr {
		res.Stderr = res.Stderr[:maxStderr] + " ..."
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		ws := ee.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			res.Exit = 128 + int(ws.Signal())
		} else {
			res.Exit = ws.ExitStatus()
		}
	default:
		res.Err = err.Error()
	}
	return res
}

// check says why a timed command failed: it could not be started, or it
// exited other than with want.
func (r execResult) check(want int) error {
	switch {
	case r.Err != "":
		return errors.New(r.Err)
	case r.Exit != want:
		msg := fmt.Sprintf("exit status %d, want %d", r.Exit, want)
		if r.Stderr != "" {
			msg += "; stderr: " + r.Stderr
		}
		return errors.New(msg)
	}
	return nil
}

// runnerMain serves as the runner and exits when this process was started
// as one; otherwise it returns at once. main (and TestMain) call it first.
func runnerMain() {
	if os.Getenv(runnerEnv) == "" {
		return
	}
	if err := serve(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "runtime benchmark runner:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func serve(in io.Reader, out io.Writer) error {
	enc := json.NewEncoder(out)
	unmounted, err := leaveHybrid()
	ready := readyMsg{Unmounted: unmounted}
	if err != nil {
		ready.Err = err.Error()
	}
	if err := enc.Encode(ready); err != nil || ready.Err != "" {
		return errors.Join(err, errors.New(ready.Err))
	}
	dec := json.NewDecoder(in)
	for {
		var req runRequest
		if err := dec.Decode(&req); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
		res := execResult{Err: "empty argv"}
		if len(req.Argv) > 0 {
			res = timedExec(req.Argv)
		}
		if err := enc.Encode(res); err != nil {
			return err
		}
	}
}

// leaveHybrid unmounts, in this process's own mount namespace, the cgroup2
// file systems of a hybrid layout, so that only the v1 hierarchies remain.
func leaveHybrid() ([]string, error) {
	self, err1 := os.Readlink("/proc/self/ns/mnt")
	parent, err2 := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", os.Getppid()))
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	if self == parent {
		return nil, fmt.Errorf("the runner shares its parent's mount namespace (%s): refusing to unmount anything", self)
	}
	ms, err := readMounts("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	l := layoutOf(ms)
	if !l.hybrid() {
		return nil, nil
	}
	var done []string
	// Deepest first, should one cgroup2 mount sit below another.
	for i := len(l.V2) - 1; i >= 0; i-- {
		p := l.V2[i]
		err := unix.Unmount(p, 0)
		if errors.Is(err, unix.EBUSY) {
			err = unix.Unmount(p, unix.MNT_DETACH)
		}
		if err != nil {
			return done, fmt.Errorf("unmount %s in the runner's mount namespace: %w", p, err)
		}
		done = append(done, p)
	}
	return done, nil
}

// runner is the client side: the running runner process.
type runner struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	dec     *json.Decoder
	enc     *json.Encoder
	logPath string // the runner's stderr
	// Unmounted are the cgroup2 mount points the runner unmounted.
	Unmounted []string
}

// startRunner re-executes this program as the runner, its stderr going to
// runner.log in dir, and waits until it is ready.
func startRunner(dir string) (*runner, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	r := &runner{logPath: filepath.Join(dir, "runner.log")}
	logFile, err := os.Create(r.logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	r.cmd = exec.Command(self)
	r.cmd.Env = append(os.Environ(), runnerEnv+"=1")
	r.cmd.Stderr = logFile
	r.cmd.SysProcAttr = &syscall.SysProcAttr{
		Unshareflags: syscall.CLONE_NEWNS, // and os/exec makes / rprivate
		Pdeathsig:    syscall.SIGKILL,
		// Out of the terminal's process group: an interrupt stops this
		// process, which then has the runner clean up before it ends.
		Setpgid: true,
	}
	if r.stdin, err = r.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := r.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := r.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the runner: %w", err)
	}
	r.dec, r.enc = json.NewDecoder(stdout), json.NewEncoder(r.stdin)
	var ready readyMsg
	if err := r.dec.Decode(&ready); err != nil {
		return nil, errors.Join(r.fail(err), r.close())
	}
	r.Unmounted = ready.Unmounted
	if ready.Err != "" {
		return nil, errors.Join(fmt.Errorf("runner: %s", ready.Err), r.close())
	}
	return r, nil
}

// exec has the runner run and time argv.
func (r *runner) exec(argv []string) (execResult, error) {
	if err := r.enc.Encode(runRequest{Argv: argv}); err != nil {
		return execResult{}, r.fail(err)
	}
	var res execResult
	if err := r.dec.Decode(&res); err != nil {
		return execResult{}, r.fail(err)
	}
	return res, nil
}

// fail wraps a protocol error with what the runner said on stderr.
func (r *runner) fail(err error) error {
	log, _ := os.ReadFile(r.logPath)
	if s := strings.TrimSpace(string(log)); s != "" {
		return fmt.Errorf("runner: %w; its stderr: %s", err, s)
	}
	return fmt.Errorf("runner: %w", err)
}

// close ends the runner's input and waits for it to exit, killing it after
// ten seconds.
func (r *runner) close() error {
	r.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return r.fail(err)
		}
		return nil
	case <-time.After(10 * time.Second):
		r.cmd.Process.Kill()
		<-done
		return r.fail(errors.New("did not exit within 10s of its input's end; killed"))
	}
}
