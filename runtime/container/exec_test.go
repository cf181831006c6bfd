package container

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shepherd-lab/shepherd/runtime/cgroups"
)

// startContainer runs spec and waits for its log to say "ready".
func startContainer(t *testing.T, r *Runtime, spec *Spec) *State {
	t.Helper()
	st, err := r.Run(ctxT(t), spec)
	if err != nil {
		t.Fatalf("run %v: %v", spec.Process.Args, err)
	}
	waitLog(t, r, spec.ID, "ready")
	return st
}

// execOK runs args in the container and fails the test unless it exits 0;
// it returns stdout.
func execOK(t *testing.T, r *Runtime, id string, p Process) string {
	t.Helper()
	var out, errOut bytes.Buffer
	code, err := r.Exec(ctxT(t), id, p, &out, &errOut)
	if err != nil || code != 0 {
		t.Fatalf("exec %q: code %d, %v; stderr %q", p.Args, code, err, errOut.String())
	}
	return out.String()
}

func args(a ...string) Process { return Process{Args: a} }

// An exec'd process is in every namespace of the container (the same
// files under /proc/<pid>/ns as its first process), sees its hostname, its
// PID 1 and its mounts, and the two see each other's files.
func TestExecJoinsContainer(t *testing.T) {
	lower := busyboxLayer(t)
	r := newRuntime(t)
	spec := testSpec(lower, "sh", "-c", `echo from-container > /scratch/c; echo ready
while [ ! -f /data/fromexec ]; do sleep 0.02; done
echo saw=$(cat /data/fromexec); exec sleep 1000`)
	spec.Hostname = "execbox"
	spec.Process.Cwd = "/data"
	spec.Mounts = []Mount{{Destination: "/scratch", Type: "tmpfs"}}
	st := startContainer(t, r, spec)

	namespaces := []string{"mnt", "pid", "net", "ipc", "uts", "cgroup"}
	script := `echo hostname=$(hostname)
echo pwd=$(pwd)
echo scratch=$(cat /scratch/c)
echo ppid=$(cut -d' ' -f4 /proc/$$/stat)
for ns in ` + strings.Join(namespaces, " ") + `; do echo $ns=$(readlink /proc/$$/ns/$ns); done`
	f := fields(execOK(t, r, spec.ID, args("sh", "-c", script)))
	for k, want := range map[string]string{
		"hostname": "execbox",
		// The container's working directory (Process.Cwd unset).
		"pwd": "/data",
		// The tmpfs exists only in the container's mount namespace.
		"scratch": "from-container",
		// The parent, the exec stage, is outside the PID namespace.
		"ppid": "0",
	} {
		if f[k] != want {
			t.Errorf("%s = %q, want %q", k, f[k], want)
		}
	}
	for _, ns := range namespaces {
		want, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", st.Pid, ns))
		if err != nil {
			t.Fatal(err)
		}
		if f[ns] != want {
			t.Errorf("%s namespace %q, want the container's %q", ns, f[ns], want)
		}
	}

	execOK(t, r, spec.ID, args("sh", "-c", "echo from-exec > /data/fromexec"))
	waitLog(t, r, spec.ID, "saw=from-exec")
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", st.Pid))
		if string(b) == "sleep\x001000\x00" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the container's process never exec'd sleep: %q", b)
		}
		time.Sleep(5 * time.Millisecond)
	}
	out := execOK(t, r, spec.ID, args("sh", "-c", "cat /proc/1/cmdline; echo; ps -o pid,args"))
	cmdline, ps, _ := strings.Cut(out, "\n")
	if cmdline != "sleep\x001000\x00" {
		t.Errorf("/proc/1/cmdline %q, want the container's sleep", cmdline)
	}
	if !strings.Contains(ps, "    1 sleep 1000") || strings.Contains(ps, "shepherd") {
		t.Errorf("ps in the container:\n%s", ps)
	}

	// The environment is the caller's with the defaults init gives.
	p := args("sh", "-c", "pwd; env | sort")
	p.Cwd, p.Env = "/tmp", []string{"A=1"}
	env := execOK(t, r, spec.ID, p)
	for _, want := range []string{"/tmp\n", "\nA=1\n", "\nHOME=/root\n", "\nHOSTNAME=execbox\n", "\nPATH=/usr/local/sbin:"} {
		if !strings.Contains("\n"+env, want) {
			t.Errorf("pwd and env %q lack %q", env, want)
		}
	}
}

func TestExecExitCodesAndStreams(t *testing.T) {
	lower := busyboxLayer(t)
	r := newRuntime(t)
	spec := testSpec(lower, "sh", "-c", "echo ready; exec sleep 1000")
	st := startContainer(t, r, spec)
	ctx := ctxT(t)
	var out, errOut bytes.Buffer
	code, err := r.Exec(ctx, spec.ID, args("sh", "-c", "echo out; echo err >&2; exit 3"), &out, &errOut)
	if err != nil || code != 3 {
		t.Fatalf("exit 3: code %d, %v", code, err)
	}
	if out.String() != "out\n" || errOut.String() != "err\n" {
		t.Errorf("stdout %q stderr %q", out.String(), errOut.String())
	}
	if code, err := r.Exec(ctx, spec.ID, args("sh", "-c", "kill -TERM $$"), nil, nil); err != nil || code != 128+int(syscall.SIGTERM) {
		t.Errorf("killed by SIGTERM: code %d, %v", code, err)
	}
	if code, err := r.Exec(ctx, spec.ID, args("cat"), nil, nil); err != nil || code != 0 {
		t.Errorf("cat of stdin (/dev/null): code %d, %v", code, err)
	}
	// A background process holding stdout does not hold up Exec.
	start := time.Now()
	if code, err := r.Exec(ctx, spec.ID, args("sh", "-c", "sleep 5 & echo started"), &out, nil); err != nil || code != 0 {
		t.Errorf("background: code %d, %v", code, err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Exec waited %v for the output of a background process", d)
	}

	// Execs run side by side, each with its own output.
	outs := make([]bytes.Buffer, 8)
	errs := make(chan error, len(outs))
	for i := range outs {
		go func() {
			code, err := r.Exec(ctx, spec.ID, args("echo", strconv.Itoa(i)), &outs[i], nil)
			if err == nil && code != 0 {
				err = fmt.Errorf("exit %d", code)
			}
			errs <- err
		}()
	}
	for range outs {
		if err := <-errs; err != nil {
			t.Errorf("concurrent exec: %v", err)
		}
	}
	for i := range outs {
		if got := outs[i].String(); got != strconv.Itoa(i)+"\n" {
			t.Errorf("concurrent exec %d printed %q", i, got)
		}
	}

	// An *os.File given as stdout reaches the command as a pipe, not as
	// a host file it could reopen.
	hostFile, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer hostFile.Close()
	if code, err := r.Exec(ctx, spec.ID, args("readlink", "/proc/self/fd/1"), hostFile, nil); err != nil || code != 0 {
		t.Fatalf("readlink: code %d, %v", code, err)
	}
	if b, _ := os.ReadFile(hostFile.Name()); !strings.HasPrefix(string(b), "pipe:[") {
		t.Errorf("the command's stdout is %q, want a pipe", b)
	}

	// Descriptors the caller left open do not reach the command; seen
	// from the host while it runs.
	leak, err := os.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer leak.Close()
	if _, err := unix.FcntlInt(leak.Fd(), unix.F_SETFD, 0); err != nil {
		t.Fatal(err)
	}
	running, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := r.Exec(running, spec.ID, args("sleep", "42"), nil, nil)
		done <- err
	}()
	pid := waitExecd(t, st, "sleep 42")
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	var names []string
	for _, fd := range fds {
		names = append(names, fd.Name())
	}
	if strings.Join(names, " ") != "0 1 2" {
		t.Errorf("the exec'd process has descriptors %v, want 0 1 2", names)
	}
	stop()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled exec: %v", err)
	}

	for _, tc := range []struct {
		p    Process
		want string
	}{
		{args("no-such-command"), "no-such-command: executable file not found"},
		{Process{Args: []string{"true"}, User: "mallory"}, `user "mallory": no such user`},
		{Process{Args: []string{"true"}, Cwd: "/no/such/dir"}, "chdir /no/such/dir"},
		{Process{}, "a command is required"},
	} {
		code, err := r.Exec(ctx, spec.ID, tc.p, nil, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) || code != -1 {
			t.Errorf("exec %+v: code %d, %v; want an error with %q", tc.p, code, err, tc.want)
		}
	}
}

// An exec drops privileges as the container's process does: the same
// capability sets by default, the user asked for, the container's
// no_new_privs and seccomp.
func TestExecPrivileges(t *testing.T) {
	lower := busyboxLayer(t)
	r := newRuntime(t)
	spec := testSpec(lower, "sh", "-c", "echo ready; exec sleep 1000")
	spec.Process.NoNewPrivileges = true
	spec.Seccomp = SeccompRuntimeDefault
	st := startContainer(t, r, spec)
	hostStatus, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", st.Pid))
	if err != nil {
		t.Fatal(err)
	}
	statusLine := func(status, key string) string {
		for _, l := range strings.Split(status, "\n") {
			if strings.HasPrefix(l, key+":") {
				return strings.TrimSpace(strings.TrimPrefix(l, key+":"))
			}
		}
		t.Fatalf("no %s in %s", key, status)
		return ""
	}
	// A caller that ignores SIGHUP (the stage inherits that) does not
	// pass it on to the command.
	signal.Ignore(syscall.SIGHUP)
	status := execOK(t, r, spec.ID, args("cat", "/proc/self/status"))
	signal.Reset(syscall.SIGHUP)
	if ign, err := strconv.ParseUint(statusLine(status, "SigIgn"), 16, 64); err != nil || ign&1 != 0 {
		t.Errorf("SigIgn %q: SIGHUP ignored in the exec'd process", statusLine(status, "SigIgn"))
	}
	for _, k := range []string{"CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb", "NoNewPrivs", "Seccomp"} {
		if got, want := statusLine(status, k), statusLine(string(hostStatus), k); got != want {
			t.Errorf("%s %s, want the container process's %s", k, got, want)
		}
	}
	capEff := parseCapLine(t, statusLine(status, "CapEff"))
	for _, c := range DefaultCapabilities {
		n, _ := capabilityByName(c)
		if capEff&(1<<n) == 0 {
			t.Errorf("%s missing from CapEff %x", c, capEff)
		}
	}
	if capEff&(1<<capSysAdmin) != 0 {
		t.Errorf("CapEff %x holds CAP_SYS_ADMIN", capEff)
	}
	if got := statusLine(status, "NoNewPrivs"); got != "1" {
		t.Errorf("NoNewPrivs %s", got)
	}
	if got := statusLine(status, "Seccomp"); got != "2" {
		t.Errorf("Seccomp mode %s, want the container's filter", got)
	}

	u := uint32(65534)
	for _, tc := range []struct {
		p    Process
		want string
	}{
		{Process{User: "alice"}, "uid=1000(alice) gid=1000(alice) groups=50(staff),1000(alice) 0000000000000000"},
		{Process{UID: &u}, "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup) 0000000000000000"},
		{Process{User: "1000:50"}, "uid=1000(alice) gid=50(staff) groups=50(staff) 0000000000000000"},
	} {
		tc.p.Args = []string{"sh", "-c", "echo $(id) $(grep CapEff /proc/self/status | cut -f2)"}
		if got := strings.TrimSpace(execOK(t, r, spec.ID, tc.p)); got != tc.want {
			t.Errorf("exec as %q/%v: %q, want %q", tc.p.User, tc.p.UID, got, tc.want)
		}
	}
	// CapDrop in the exec's Process overrides the container's set.
	p := args("grep", "CapEff", "/proc/self/status")
	p.CapDrop = []string{"ALL"}
	if got := execOK(t, r, spec.ID, p); parseCapLine(t, got) != 0 {
		t.Errorf("CapDrop ALL: %q", got)
	}

	// A container whose process runs as a user runs execs as that user.
	spec = testSpec(lower, "sh", "-c", "echo ready; exec sleep 1000")
	spec.Process.User = "alice"
	startContainer(t, r, spec)
	if got := execOK(t, r, spec.ID, args("id", "-u")); got != "1000\n" {
		t.Errorf("exec into alice's container runs as %q", got)
	}
}

// A timed-out exec returns promptly and kills its command and what the
// command started.
func TestExecTimeout(t *testing.T) {
	lower := busyboxLayer(t)
	r := newRuntime(t)
	spec := testSpec(lower, "sh", "-c", "echo ready; exec sleep 1000")
	st := startContainer(t, r, spec)
	pidNS, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", st.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{
		"sleep 101",
		"sleep 102 & sleep 103 | sleep 104",
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		start := time.Now()
		code, err := r.Exec(ctx, spec.ID, args("sh", "-c", cmd), nil, nil)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || code != -1 {
			t.Fatalf("%s: code %d, %v; want the deadline's error", cmd, code, err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s: Exec returned %v after the deadline", cmd, d)
		}
		if left := processesIn(t, pidNS); len(left) != 1 {
			t.Errorf("%s: processes left in the container: %v", cmd, left)
		}
	}
	// (Killed descendants of the command are reparented to PID 1, as
	// with runc; this one does not reap, so they stay as zombies,
	// "[sleep]" without arguments.)
	ps := execOK(t, r, spec.ID, args("ps", "-o", "pid,args"))
	for n := 101; n <= 104; n++ {
		if strings.Contains(ps, fmt.Sprintf("sleep %d", n)) {
			t.Errorf("ps in the container after the timeouts:\n%s", ps)
		}
	}

	// Deadlines that may pass while the stage is still entering the
	// container: the command is killed as soon as it starts.
	for i := 1; i <= 4; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i)*time.Millisecond)
		_, err := r.Exec(ctx, spec.ID, args("sleep", "105"), nil, nil)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("deadline of %d ms: %v", i, err)
		}
		if left := processesIn(t, pidNS); len(left) != 1 {
			t.Fatalf("deadline of %d ms: processes left in the container: %v", i, left)
		}
	}
}

// A process that makes a process group of its own (bash's job control
// does) is still in the command's session, and killed with it.
func TestExecTimeoutJobControl(t *testing.T) {
	lower := busyboxLayer(t)
	// The container gets the host's bash through a read-only /usr.
	l1, _ := os.Readlink("/lib")
	l2, _ := os.Readlink("/lib64")
	if l1 != "usr/lib" || l2 != "usr/lib64" || executable("/usr/bin/bash") != nil {
		t.Skip("needs a merged-/usr host with /usr/bin/bash")
	}
	os.Symlink("usr/lib", filepath.Join(lower, "lib"))
	os.Symlink("usr/lib64", filepath.Join(lower, "lib64"))
	os.Mkdir(filepath.Join(lower, "usr"), 0o755)
	r := newRuntime(t)
	spec := testSpec(lower, "sh", "-c", "echo ready; exec sleep 1000")
	spec.Mounts = []Mount{{Destination: "/usr", Source: "/usr", ReadOnly: true}}
	st := startContainer(t, r, spec)
	pidNS, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", st.Pid))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = r.Exec(ctx, spec.ID, args("/usr/bin/bash", "-c", "set -m; sleep 106 & sleep 107 & wait"), nil, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("bash: %v", err)
	}
	if left := processesIn(t, pidNS); len(left) != 1 {
		t.Errorf("processes left in the container: %v", left)
	}
}

// An exec with a context that is already done starts nothing.
func TestExecCancelled(t *testing.T) {
	lower := busyboxLayer(t)
	r := newRuntime(t)
	spec := testSpec(lower, "sh", "-c", "echo ready; exec sleep 1000")
	startContainer(t, r, spec)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Exec(ctx, spec.ID, args("true"), nil, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("exec with a cancelled context: %v", err)
	}
}

// waitExecd waits for a process with this command line (arguments
// joined by spaces) in the container's PID namespace, and returns its
// host pid.
func waitExecd(t *testing.T, st *State, cmdline string) int {
	t.Helper()
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", st.Pid))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, p := range processesIn(t, ns) {
			pid, cmd, _ := strings.Cut(p, " ")
			if strings.TrimSpace(cmd) == cmdline {
				n, _ := strconv.Atoi(pid)
				return n
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no process %q in the container", cmdline)
	return 0
}

// processesIn lists the host's processes in the PID namespace ns
// ("pid:[inode]"), as "pid cmdline".
func processesIn(t *testing.T, ns string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if l, err := os.Readlink("/proc/" + e.Name() + "/ns/pid"); err != nil || l != ns {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if len(cmdline) == 0 {
			continue // a zombie being reaped
		}
		out = append(out, e.Name()+" "+strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
	return out
}

func TestExecNotRunning(t *testing.T) {
	lower := busyboxLayer(t)
	r := newRuntime(t)
	ctx := ctxT(t)
	if _, err := r.Exec(ctx, "no-such-container", args("true"), nil, nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("exec into an unknown container: %v", err)
	}
	spec := testSpec(lower, "true")
	if _, err := r.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Exec(ctx, spec.ID, args("true"), nil, nil); !errors.Is(err, ErrNotRunning) || !strings.Contains(err.Error(), "created") {
		t.Errorf("exec into a created container: %v", err)
	}
	if err := r.Start(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Wait(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	_, err := r.Exec(ctx, spec.ID, args("true"), nil, nil)
	if !errors.Is(err, ErrNotRunning) || !strings.Contains(err.Error(), "exited") {
		t.Errorf("exec into an exited container: %v", err)
	}
}

// An exec into a container of a sandbox is in the sandbox's network, IPC
// and UTS namespaces.
func TestExecSandbox(t *testing.T) {
	lower := busyboxLayer(t)
	r := newRuntime(t)
	sb := "sbexec-" + strconv.Itoa(os.Getpid())
	if err := r.CreateSandbox(ctxT(t), sb, "podhost"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.RemoveSandbox(sb) })
	spec := testSpec(lower, "sh", "-c", "echo ready; exec sleep 1000")
	spec.Sandbox = sb
	startContainer(t, r, spec)
	if got := execOK(t, r, spec.ID, args("hostname")); got != "podhost\n" {
		t.Errorf("hostname %q, want the sandbox's", got)
	}
	out := execOK(t, r, spec.ID, args("sh", "-c", "for ns in net ipc uts; do readlink /proc/$$/ns/$ns; done; cat /proc/net/dev"))
	for _, ns := range []string{"net", "ipc", "uts"} {
		var st unix.Stat_t
		if err := unix.Stat(r.SandboxNamespacePath(sb, ns), &st); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("%s:[%d]\n", ns, st.Ino); !strings.Contains(out, want) {
			t.Errorf("want the sandbox's %s namespace %q in:\n%s", ns, want, out)
		}
	}
	// /proc/net/dev: two header lines, then loopback only.
	if _, dev, _ := strings.Cut(out, "Inter-|"); !strings.Contains(dev, " lo:") || strings.Count(dev, "\n") != 3 {
		t.Errorf("/proc/net/dev in the sandbox: want loopback only:\n%s", out)
	}
}

// An exec runs in the container's cgroup: inside its cgroup namespace it
// is at the root.
func TestExecCgroup(t *testing.T) {
	lower := busyboxLayer(t)
	root := fmt.Sprintf("shepherd-test-exec-%d", os.Getpid())
	m, err := cgroups.Open(cgroups.Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	if !m.Available() {
		t.Skip("no cgroup v2 hierarchy on this host")
	}
	t.Cleanup(func() { (&cgroups.Cgroup{Path: m.RootPath()}).Remove() })
	r, err := New(Config{Root: t.TempDir(), ShimPath: os.Args[0], Cgroups: m})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		list, _ := r.List()
		for _, st := range list {
			r.Delete(context.Background(), st.ID, true)
		}
	})
	spec := testSpec(lower, "sh", "-c", "echo ready; exec sleep 1000")
	st := startContainer(t, r, spec)
	if st.Cgroup == "" {
		t.Fatalf("no cgroup: %s", st.CgroupUnavailable)
	}
	out := execOK(t, r, spec.ID, args("sh", "-c", "cat /proc/self/cgroup; echo pid=$$; sleep 0.2"))
	if !strings.Contains(out, "0::/\n") {
		t.Errorf("/proc/self/cgroup in an exec: %q, want the namespace's root", out)
	}
	// The host's view: the exec'd process was in the container's
	// cgroup.procs (checked while it runs).
	var procs []byte
	done := make(chan struct{})
	go func() {
		defer close(done)
		if code, err := r.Exec(context.Background(), spec.ID, args("sleep", "0.3"), nil, nil); err != nil || code != 0 {
			t.Errorf("exec sleep: code %d, %v", code, err)
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		procs, _ = os.ReadFile(filepath.Join(st.Cgroup, "cgroup.procs"))
		if strings.Count(string(procs), "\n") >= 2 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	<-done
	if strings.Count(string(procs), "\n") < 2 {
		t.Errorf("the container's cgroup.procs never held the exec: %q", procs)
	}
}
