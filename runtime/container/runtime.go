package container

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shepherd-lab/shepherd/runtime/cgroups"
)

// Sentinel errors, wrapped with the container's ID.
var (
	ErrNotFound      = errors.New("container not found")
	ErrAlreadyExists = errors.New("container already exists")
	// ErrRunning is returned by Delete without force for a live container.
	ErrRunning = errors.New("container is running")
	// ErrNotCreated is returned by Start for a container that is not
	// waiting to start (already started, or its init stage died).
	ErrNotCreated = errors.New("container is not in the created state")
)

// createTimeout bounds Create when its context has no deadline.
const createTimeout = time.Minute

// Config configures a Runtime.
type Config struct {
	// Root holds the runtime's state: containers/<id>/ and sandboxes/<id>/.
	Root string
	// ShimPath is the executable started as each container's monitor and
	// init stage; it must call ShimMain first thing. "" means
	// shepherd-shim beside the running executable if there is one (a small
	// binary that starts in about a millisecond), else the running
	// executable itself.
	ShimPath string
	// Cgroups places containers in cgroups under its root; nil, or a
	// manager without a hierarchy, runs them without (each container's
	// State then says so).
	Cgroups *cgroups.Manager
	// SpareMonitor keeps one monitor process started ahead, waiting for
	// a container, so Create does not wait for a process start (about
	// 2 ms of the ~8 ms a container takes to start). Worth it in a
	// long-lived runtime (the kubelet), which then calls Close.
	SpareMonitor bool
	Log          *slog.Logger
}

// Runtime creates and runs containers. Its state is all on disk, so a new
// Runtime over the same Root (after a kubelet restart, or in the debugging
// CLI beside a running kubelet) sees the same containers. Methods are safe
// for concurrent use.
type Runtime struct {
	root, shim string
	cg         *cgroups.Manager
	log        *slog.Logger
	keepSpare  bool

	mu sync.Mutex
	// created holds the sync pipe of containers this Runtime created and
	// has not started yet: Start reads the outcome of execve from it.
	created map[string]*os.File
	// spare is a monitor started ahead (Config.SpareMonitor), nil when
	// none is ready; replenishing counts the goroutines starting one.
	spare     *monitorProc
	replenish sync.WaitGroup
	starting  bool
	closed    bool
}

// New prepares Root and finds the shim.
func New(cfg Config) (*Runtime, error) {
	if cfg.Root == "" {
		return nil, errors.New("runtime: Root is required")
	}
	for _, d := range []string{"containers", "sandboxes"} {
		if err := os.MkdirAll(filepath.Join(cfg.Root, d), 0o700); err != nil {
			return nil, err
		}
	}
	shim := cfg.ShimPath
	if shim == "" {
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		shim = self
		if p := filepath.Join(filepath.Dir(self), "shepherd-shim"); executable(p) == nil {
			shim = p
		}
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Runtime{root: cfg.Root, shim: shim, cg: cfg.Cgroups, log: log, keepSpare: cfg.SpareMonitor, created: map[string]*os.File{}}
	if r.keepSpare {
		r.startSpare()
	}
	return r, nil
}

// monitorProc is a started monitor waiting for its job.
type monitorProc struct {
	pid   int
	start uint64
	job   *os.File // write end of its job pipe
	sync  *os.File // read end of its sync pipe
}

// startMonitor starts a monitor in its own session, so it outlives the
// runtime and ignores the runtime's terminal. Its exit is reaped here
// whenever it comes; Wait finds the container's exit in exit.json.
func (r *Runtime) startMonitor() (*monitorProc, error) {
	syncR, syncW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer syncW.Close()
	jobR, jobW, err := os.Pipe()
	if err != nil {
		syncR.Close()
		return nil, err
	}
	defer jobR.Close()
	cmd := exec.Command(r.shim)
	cmd.Args = []string{"shepherd-monitor"}
	cmd.Env = []string{envStage + "=" + stageMonitor}
	cmd.ExtraFiles = []*os.File{syncW, jobR} // fds 3 and 4
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		syncR.Close()
		jobW.Close()
		return nil, fmt.Errorf("start monitor %s: %w", r.shim, err)
	}
	// Reap it when it exits, without pinning a thread in waitid for its
	// whole life: the exit is learnt from a pidfd through the netpoller.
	go func() {
		if fd, err := unix.PidfdOpen(cmd.Process.Pid, 0); err == nil {
			waitPidfd(context.Background(), fd)
		}
		cmd.Wait()
	}()
	start, _ := processStartTime(cmd.Process.Pid)
	return &monitorProc{pid: cmd.Process.Pid, start: start, job: jobW, sync: syncR}, nil
}

// monitor returns the spare monitor if one is ready (and starts the next
// one), else a new one.
func (r *Runtime) monitor() (*monitorProc, error) {
	r.mu.Lock()
	m := r.spare
	r.spare = nil
	r.mu.Unlock()
	if m != nil {
		return m, nil
	}
	return r.startMonitor()
}

// handOver gives the job to a monitor. A spare that died while waiting
// (killed by an operator, say) is replaced by a fresh one.
func (r *Runtime) handOver(m *monitorProc, j job) (*monitorProc, error) {
	b, _ := json.Marshal(j)
	b = append(b, '\n')
	var err error
	for attempt := 0; ; attempt++ {
		if err != nil {
			return nil, err
		}
		// A spare known dead (killed, or a zombie) is not written to: a
		// write to its job pipe was seen to succeed now and then after
		// its exit (about 1 in 10 in TestSpareMonitor), losing the job.
		if attempt == 0 && !sameProcess(m.pid, m.start) {
			err = fmt.Errorf("monitor %d exited while it waited", m.pid)
		} else {
			_, err = m.job.Write(b)
		}
		m.job.Close()
		if err == nil {
			return m, nil
		}
		m.sync.Close()
		if attempt > 0 {
			return nil, fmt.Errorf("hand the container to its monitor: %w", err)
		}
		m, err = r.startMonitor()
	}
}

// startSpare starts a spare monitor in the background unless one is
// ready or being started.
func (r *Runtime) startSpare() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.spare != nil || r.starting {
		return
	}
	r.starting = true
	r.replenish.Add(1)
	go func() {
		defer r.replenish.Done()
		m, err := r.startMonitor()
		r.mu.Lock()
		defer r.mu.Unlock()
		r.starting = false
		if err != nil {
			r.log.Warn("start spare container monitor", "err", err)
			return
		}
		if r.closed {
			m.release()
			return
		}
		r.spare = m
	}()
}

// release lets an unused monitor exit.
func (m *monitorProc) release() {
	m.job.Close()
	m.sync.Close()
}

// Close releases the spare monitor. Containers keep running; their
// monitors are independent of the Runtime.
func (r *Runtime) Close() error {
	r.mu.Lock()
	r.closed = true
	if r.spare != nil {
		r.spare.release()
		r.spare = nil
	}
	r.mu.Unlock()
	r.replenish.Wait()
	return nil
}

// Root is the runtime's state directory.
func (r *Runtime) Root() string { return r.root }

// Cgroups is the cgroup manager containers are placed with (nil: none).
func (r *Runtime) Cgroups() *cgroups.Manager { return r.cg }

func (r *Runtime) dir(id string) string { return filepath.Join(r.root, "containers", id) }

// Create prepares a container and starts its monitor and init stage, which
// builds the root filesystem and waits for Start. Errors in that setup
// (a missing executable, an unknown user, a failed mount) are returned here.
func (r *Runtime) Create(ctx context.Context, spec *Spec) (*State, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	spec = cloneSpec(spec)
	dir := r.dir(spec.ID)
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("container %q: %w", spec.ID, ErrAlreadyExists)
		}
		return nil, err
	}
	st, err := r.create(ctx, spec, dir)
	if err != nil {
		r.cleanup(spec.ID, st)
		return nil, fmt.Errorf("create container %q: %w", spec.ID, err)
	}
	return st, nil
}

func (r *Runtime) create(ctx context.Context, spec *Spec, dir string) (*State, error) {
	st := &State{ID: spec.ID, Image: spec.Image, Labels: spec.Labels, CreatedAt: time.Now()}
	for _, d := range []string{rootfsDir, upperDir, workDir} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			return st, err
		}
	}
	if err := unix.Mkfifo(filepath.Join(dir, fifoFile), 0o600); err != nil {
		return st, fmt.Errorf("exec fifo: %w", err)
	}
	sandboxHostname := ""
	if spec.Sandbox != "" {
		sb, err := r.sandboxPaths(spec.Sandbox)
		if err != nil {
			return st, err
		}
		spec.NamespacePaths = sb
		b, _ := os.ReadFile(filepath.Join(r.root, "sandboxes", spec.Sandbox, "hostname"))
		sandboxHostname = strings.TrimSpace(string(b))
	}
	if err := writeEtcFiles(dir, spec, sandboxHostname); err != nil {
		return st, err
	}
	if spec.LogPath == "" {
		spec.LogPath = filepath.Join(dir, "container.log")
	}
	st.LogPath = spec.LogPath
	if err := writeJSONAtomic(filepath.Join(dir, configFile), spec); err != nil {
		return st, err
	}
	j := job{Dir: dir}
	switch {
	case r.cg == nil:
		st.CgroupUnavailable = "no cgroup manager configured"
	case !r.cg.Available():
		st.CgroupUnavailable = cgroups.ErrNoHierarchy.Error()
	default:
		rel := spec.Cgroup
		if rel == "" {
			rel = "containers/" + spec.ID
		}
		cg, err := r.cg.Create(rel, spec.Resources)
		if err != nil {
			return st, fmt.Errorf("cgroup: %w", err)
		}
		st.Cgroup, st.CgroupSkipped = cg.Path, cg.Skipped
		j.Cgroup = cg.Path
	}
	m, err := r.monitor()
	if err != nil {
		return st, err
	}
	st.MonitorPid, st.MonitorStart = m.pid, m.start
	// On disk before the monitor acts: if this process dies now, the
	// container can still be found and deleted.
	st.Status = StatusCreating
	if err := r.saveState(st); err != nil {
		m.release()
		return st, err
	}
	if m, err = r.handOver(m, j); err != nil {
		return st, err
	}
	syncR := m.sync
	st.MonitorPid, st.MonitorStart = m.pid, m.start

	// The monitor reports init's pid, init reports ready; each may
	// report an error instead. The pipe stays open (init holds it) until
	// execve, which Start waits for.
	// A stuck init (a hung mount, say) must not hang Create: the pipe
	// gets the context's deadline, or createTimeout.
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(createTimeout)
	}
	syncR.SetReadDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { syncR.SetReadDeadline(time.Now()) })
	defer stop()
	lines := bufio.NewScanner(syncR)
	ready := false
	// Both messages are needed; they race (init may be ready before
	// the monitor, back from clone, has written the pid).
	for !(ready && st.Pid != 0) && lines.Scan() {
		var m syncMsg
		if err := json.Unmarshal(lines.Bytes(), &m); err != nil {
			continue
		}
		switch {
		case m.Error != "":
			syncR.Close()
			r.waitMonitorExit(ctx, st, 5*time.Second)
			return st, errors.New(m.Error)
		case m.Pid != 0:
			st.Pid = m.Pid
			st.PidStart, _ = processStartTime(m.Pid)
		case m.Ready:
			ready = true
		}
	}
	if !ready || st.Pid == 0 {
		syncR.Close()
		if lines.Err() != nil {
			// Timed out or cancelled: the init is stuck; kill it.
			r.kill(st)
			r.waitMonitorExit(context.Background(), st, 5*time.Second)
			return st, fmt.Errorf("container init not ready: %w", lines.Err())
		}
		r.waitMonitorExit(ctx, st, 5*time.Second)
		return st, initDied(dir, spec.LogPath)
	}
	st.Status = StatusCreated
	if err := r.saveState(st); err != nil {
		syncR.Close()
		return st, err
	}
	syncR.SetReadDeadline(time.Time{})
	r.mu.Lock()
	r.created[spec.ID] = syncR
	r.mu.Unlock()
	return st, nil
}

// initDied explains an init stage that exited before it was ready: its
// own error if it left one, else how it ended (an OOM kill or a Go
// runtime crash when the container's limits are too low for it: it runs
// in the container's cgroup) with the end of its output.
func initDied(dir, logPath string) error {
	ex, err := readExit(dir)
	if err != nil {
		return errors.New("container init exited before it was ready")
	}
	if ex.Reason != "" {
		return errors.New(ex.Reason)
	}
	var how string
	switch {
	case ex.OOMKilled:
		how = "was OOM-killed (memory limit too low?)"
	case ex.Signal != "":
		how = "was killed by " + ex.Signal
	default:
		how = fmt.Sprintf("exited with code %d", ex.ExitCode)
	}
	msg := "container init " + how + " before it was ready"
	if tail := logTail(logPath, 5); tail != "" {
		msg += ": " + tail
	}
	return errors.New(msg)
}

// logTail returns the content of the last n records of a CRI log, joined.
func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for i, l := range lines {
		if f := strings.SplitN(l, " ", 4); len(f) == 4 {
			lines[i] = f[3]
		}
	}
	return strings.Join(lines, " | ")
}

// Start lets a created container's init exec the user's process, and
// returns once execve has happened (or failed, when this Runtime created
// the container).
func (r *Runtime) Start(ctx context.Context, id string) error {
	st, err := r.State(id)
	if err != nil {
		return err
	}
	if st.Status != StatusCreated {
		return fmt.Errorf("start container %q (%s): %w", id, st.Status, ErrNotCreated)
	}
	r.mu.Lock()
	syncR := r.created[id]
	delete(r.created, id)
	r.mu.Unlock()
	if syncR != nil {
		defer syncR.Close()
	}
	fifo := filepath.Join(r.dir(id), fifoFile)
	var fd int
	deadline := time.Now().Add(5 * time.Second)
	for {
		// Non-blocking: it fails with ENXIO unless init is waiting in
		// its open for reading, so a dead init cannot hang Start.
		fd, err = unix.Open(fifo, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.ENXIO) || time.Now().After(deadline) || !st.alive() {
			if b, rerr := os.ReadFile(filepath.Join(r.dir(id), initErrorFile)); rerr == nil && len(b) > 0 {
				return fmt.Errorf("start container %q: init failed: %s", id, b)
			}
			return fmt.Errorf("start container %q: init is not waiting: %w", id, err)
		}
		time.Sleep(time.Millisecond)
	}
	unix.Write(fd, []byte{0})
	unix.Close(fd)
	// The next spare monitor starts once this container's process is
	// running, not while its root filesystem is being built: on a small
	// machine the two would compete for the CPU.
	if r.keepSpare {
		defer r.startSpare()
	}
	st.StartedAt = time.Now()
	st.Status = StatusRunning
	if err := r.saveState(st); err != nil {
		return err
	}
	if syncR != nil {
		// EOF: execve closed init's end. A message: it failed.
		syncR.SetReadDeadline(time.Now().Add(10 * time.Second))
		var m syncMsg
		if b, err := bufio.NewReader(syncR).ReadBytes('\n'); err == nil && json.Unmarshal(b, &m) == nil && m.Error != "" {
			return fmt.Errorf("start container %q: %s", id, m.Error)
		}
	}
	return nil
}

// Run creates and starts a container.
func (r *Runtime) Run(ctx context.Context, spec *Spec) (*State, error) {
	st, err := r.Create(ctx, spec)
	if err != nil {
		return nil, err
	}
	if err := r.Start(ctx, spec.ID); err != nil {
		return st, err
	}
	return r.State(spec.ID)
}

// Signal sends sig to the container's first process.
func (r *Runtime) Signal(id string, sig syscall.Signal) error {
	st, err := r.State(id)
	if err != nil {
		return err
	}
	if st.Status != StatusRunning && st.Status != StatusCreated {
		return fmt.Errorf("signal container %q: %s", id, st.Status)
	}
	if err := signalProcess(st.Pid, st.PidStart, sig); err != nil {
		return fmt.Errorf("signal container %q: %w", id, err)
	}
	return nil
}

// Wait blocks until the container has exited and returns how.
func (r *Runtime) Wait(ctx context.Context, id string) (ExitStatus, error) {
	for {
		st, err := r.State(id)
		if err != nil {
			return ExitStatus{}, err
		}
		if st.Exit != nil {
			return *st.Exit, nil
		}
		if st.Status == StatusUnknown {
			return ExitStatus{}, fmt.Errorf("container %q: its monitor is gone without recording an exit", id)
		}
		if sameProcess(st.MonitorPid, st.MonitorStart) {
			if err := waitProcess(ctx, st.MonitorPid, st.MonitorStart); err != nil {
				return ExitStatus{}, fmt.Errorf("wait for container %q: %w", id, err)
			}
			continue
		}
		// The monitor was killed but the container lives on: wait for
		// the container itself; its exit will then be unknown.
		if err := waitProcess(ctx, st.Pid, st.PidStart); err != nil {
			return ExitStatus{}, fmt.Errorf("wait for container %q: %w", id, err)
		}
	}
}

// Delete removes a container: its cgroup, directory and log (unless the
// log is outside the directory). A live container needs force, which kills
// it first.
func (r *Runtime) Delete(ctx context.Context, id string, force bool) error {
	st, err := r.State(id)
	if err != nil {
		return err
	}
	switch st.Status {
	case StatusRunning, StatusCreated, StatusCreating:
		if !force {
			return fmt.Errorf("delete container %q: %w", id, ErrRunning)
		}
		r.kill(st)
	case StatusUnknown:
		// Its monitor is gone (or it never got one: the runtime died
		// during Create); whatever is left in its cgroup goes.
		r.kill(st)
	}
	r.mu.Lock()
	if f := r.created[id]; f != nil {
		f.Close()
		delete(r.created, id)
	}
	r.mu.Unlock()
	r.waitMonitorExit(ctx, st, 10*time.Second)
	return r.cleanup(id, st)
}

func (r *Runtime) kill(st *State) {
	if st.Cgroup != "" {
		if err := (&cgroups.Cgroup{Path: st.Cgroup, Rel: st.Cgroup}).Kill(); err == nil {
			return
		}
	}
	// PID 1 dying takes the rest of its PID namespace with it.
	signalProcess(st.Pid, st.PidStart, syscall.SIGKILL)
}

func (r *Runtime) waitMonitorExit(ctx context.Context, st *State, limit time.Duration) {
	if st.MonitorPid == 0 {
		return
	}
	wctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	waitProcess(wctx, st.MonitorPid, st.MonitorStart)
}

// cleanup removes the cgroup, then the directory. If the cgroup cannot be
// removed (a process in it cannot be killed), the directory stays, so the
// container stays listed and Delete can be tried again.
func (r *Runtime) cleanup(id string, st *State) error {
	if st != nil && st.Cgroup != "" {
		if err := (&cgroups.Cgroup{Path: st.Cgroup, Rel: st.Cgroup}).Remove(); err != nil {
			return fmt.Errorf("delete container %q: remove its cgroup: %w", id, err)
		}
	}
	if err := os.RemoveAll(r.dir(id)); err != nil {
		return fmt.Errorf("delete container %q: %w", id, err)
	}
	return nil
}

// State reads a container's state from disk.
func (r *Runtime) State(id string) (*State, error) {
	if !validID(id) {
		return nil, fmt.Errorf("container %q: %w", id, ErrNotFound)
	}
	st, err := loadState(r.dir(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("container %q: %w", id, ErrNotFound)
	}
	return st, err
}

// List returns every container's state, oldest first.
func (r *Runtime) List() ([]*State, error) {
	entries, err := os.ReadDir(filepath.Join(r.root, "containers"))
	if err != nil {
		return nil, err
	}
	var out []*State
	for _, e := range entries {
		st, err := r.State(e.Name())
		if err != nil {
			continue // being created or deleted
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

// Stats reads the container's cgroup counters.
func (r *Runtime) Stats(id string) (cgroups.Stats, error) {
	st, err := r.State(id)
	if err != nil {
		return cgroups.Stats{}, err
	}
	if st.Cgroup == "" {
		return cgroups.Stats{}, fmt.Errorf("container %q: no cgroup (%s): %w", id, st.CgroupUnavailable, cgroups.ErrUnavailable)
	}
	return (&cgroups.Cgroup{Path: st.Cgroup}).Stats()
}

func cloneSpec(s *Spec) *Spec {
	b, _ := json.Marshal(s)
	var c Spec
	json.Unmarshal(b, &c)
	return &c
}

// writeEtcFiles writes the files bind-mounted over /etc/hostname, hosts
// and resolv.conf.
func writeEtcFiles(dir string, spec *Spec, sandboxHostname string) error {
	hostname := spec.Hostname
	if spec.Sandbox != "" {
		// The sandbox's UTS namespace names the host.
		hostname = sandboxHostname
	}
	if hostname == "" {
		hostname = spec.ID
		if len(hostname) > 12 {
			hostname = hostname[:12]
		}
		spec.Hostname = hostname
	}
	hosts := spec.Hosts
	if hosts == nil {
		hosts = []byte("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t" + hostname + "\n")
	}
	resolv := spec.ResolvConf
	if resolv == nil {
		resolv = hostResolvConf()
	}
	for name, content := range map[string][]byte{"hostname": []byte(hostname + "\n"), "hosts": hosts, "resolv.conf": resolv} {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// hostResolvConf is the host's resolver configuration, or, on hosts whose
// /etc/resolv.conf points at systemd-resolved's stub (127.0.0.53, which a
// container's own network namespace cannot reach), the upstream servers it
// uses.
func hostResolvConf() []byte {
	b, _ := os.ReadFile("/etc/resolv.conf")
	if strings.Contains(string(b), "nameserver 127.0.0.53") {
		if up, err := os.ReadFile("/run/systemd/resolve/resolv.conf"); err == nil {
			return up
		}
	}
	return b
}
