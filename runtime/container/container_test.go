package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// isolationScript prints what a user inside the container can see.
const isolationScript = `
echo hostname=$(hostname)
echo pid=$$
echo maxpid=$(ls /proc | grep '^[0-9]*$' | sort -n | tail -1)
echo kcore=$(cat /proc/kcore | wc -c)
echo keys=$(cat /proc/keys 2>&1 | wc -c)
echo timer_list=$(cat /proc/timer_list | wc -c)
echo firmware=$(ls -A /sys/firmware | wc -l)
echo procsys=$(echo 1 > /proc/sys/kernel/ns_last_pid 2>&1 && echo writable || echo readonly)
echo syswrite=$(touch /sys/shepherd 2>/dev/null && echo writable || echo readonly)
echo capeff=$(grep CapEff /proc/self/status | cut -f2 2>/dev/null || grep CapEff /proc/self/status)
echo capbnd=$(grep CapBnd /proc/self/status)
echo nnp=$(grep NoNewPrivs /proc/self/status)
echo hostmounts=$(grep -c ' /work\| /home' /proc/self/mountinfo)
echo devnull=$(echo x > /dev/null && echo ok)
echo devs=$(ls /dev | tr '\n' ' ')
echo etchostname=$(cat /etc/hostname)
echo lo=$(cat /sys/class/net/lo/operstate)
echo netdevs=$(ls /sys/class/net | tr '\n' ' ')
echo mknod=$(mknod /data/mem c 1 1 2>/dev/null && (head -c1 /data/mem >/dev/null 2>&1 && echo opened || echo blocked) || echo refused)
echo sigign=$(grep SigIgn /proc/1/status | cut -f2)
echo devmknod=$(mknod /dev/mem2 c 1 1 2>/dev/null && (head -c1 /dev/mem2 >/dev/null 2>&1 && echo opened || echo blocked) || echo refused)
echo written > /data/new
echo image > /data/image
`

func TestIsolation(t *testing.T) {
	lower := busyboxLayer(t)
	r := newRuntime(t)
	spec := testSpec(lower, "sh", "-c", isolationScript)
	spec.Hostname = "isolated"
	spec.Process.NoNewPrivileges = true
	ex, out := runToExit(t, r, spec)
	if ex.ExitCode != 0 {
		t.Fatalf("exit %+v, output:\n%s", ex, out)
	}
	f := fields(out)
	hostHostname, _ := os.Hostname()
	for k, want := range map[string]string{
		"hostname":    "isolated",
		"etchostname": "isolated",
		"pid":         "1",
		"kcore":       "0",
		"timer_list":  "0",
		"firmware":    "0",
		"procsys":     "readonly",
		"syswrite":    "readonly",
		"hostmounts":  "0",
		"devnull":     "ok",
		"lo":          "unknown", // loopback is up; its operstate reads "unknown"
		"netdevs":     "lo",
		"mknod":       "blocked",
		"devmknod":    "blocked",
	} {
		if f[k] != want {
			t.Errorf("%s = %q, want %q (host hostname %q)", k, f[k], want, hostHostname)
		}
	}
	// A fresh PID namespace: the script's few processes, numbered from
	// 1, and no host process.
	if n, err := strconv.Atoi(f["maxpid"]); err != nil || n > 20 {
		t.Errorf("highest pid seen in the container: %q, want a handful", f["maxpid"])
	}
	// The monitor's own signal handling must not reach the container:
	// SIGHUP and SIGINT keep their default action.
	if ign, err := strconv.ParseUint(f["sigign"], 16, 64); err != nil || ign&0x3 != 0 {
		t.Errorf("SigIgn %q: SIGHUP or SIGINT ignored in the container", f["sigign"])
	}
	if f["keys"] != "0" {
		t.Errorf("/proc/keys readable: %q bytes", f["keys"])
	}
	for _, d := range []string{"null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm", "fd"} {
		if !strings.Contains(" "+f["devs"]+" ", " "+d+" ") {
			t.Errorf("/dev lacks %s: %q", d, f["devs"])
		}
	}
	// The default set: 14 capabilities, not CAP_SYS_ADMIN (21).
	capEff := parseCapLine(t, f["capeff"])
	for _, c := range DefaultCapabilities {
		n, _ := capabilityByName(c)
		if capEff&(1<<n) == 0 {
			t.Errorf("%s missing from CapEff %x", c, capEff)
		}
	}
	if capEff&(1<<21) != 0 || capEff&(1<<12) != 0 {
		t.Errorf("CapEff %x holds CAP_SYS_ADMIN or CAP_NET_ADMIN", capEff)
	}
	if parseCapLine(t, f["capbnd"]) != capEff {
		t.Errorf("bounding set %s differs from effective %x", f["capbnd"], capEff)
	}
	if !strings.HasSuffix(f["nnp"], "1") {
		t.Errorf("no_new_privs not set: %q", f["nnp"])
	}
	// Writes land in the upperdir; the image layer is untouched.
	dir := r.dir(spec.ID)
	if b, err := os.ReadFile(filepath.Join(dir, upperDir, "data/new")); err != nil || string(b) != "written\n" {
		t.Errorf("upper/data/new = %q, %v", b, err)
	}
	if b, _ := os.ReadFile(filepath.Join(lower, "data/image")); string(b) != "from the image\n" {
		t.Errorf("image layer changed: %q", b)
	}
	if _, err := os.Stat(filepath.Join(lower, "data/new")); err == nil {
		t.Error("a new file appeared in the image layer")
	}
	if h, _ := os.Hostname(); h != hostHostname {
		t.Errorf("host hostname changed to %q", h)
	}
}

func parseCapLine(t *testing.T, line string) uint64 {
	t.Helper()
	f := strings.Fields(line)
	if len(f) == 0 {
		t.Fatalf("no capability line: %q", line)
	}
	v, err := strconv.ParseUint(f[len(f)-1], 16, 64)
	if err != nil {
		t.Fatalf("capability line %q: %v", line, err)
	}
	return v
}

func TestExitCodesAndLogs(t *testing.T) {
	lower := busyboxLayer(t)
	r := newRuntime(t)
	ex, out := runToExit(t, r, testSpec(lower, "sh", "-c", "echo out; echo err >&2; exit 3"))
	if ex.ExitCode != 3 || ex.Signal != "" {
		t.Fatalf("exit %+v", ex)
	}
	if out != "out\nerr\n" && out != "err\nout\n" {
		t.Fatalf("log %q", out)
	}
	ex, _ = runToExit(t, r, testSpec(lower, "true"))
	if ex.ExitCode != 0 {
		t.Fatalf("true: exit %+v", ex)
	}
	// The raw file is CRI format.
	spec := testSpec(lower, "echo", "hello")
	runToExit(t, r, spec)
	st, _ := r.State(spec.ID)
	raw, _ := os.ReadFile(st.LogPath)
	parts := strings.SplitN(strings.TrimSuffix(string(raw), "\n"), " ", 4)
	if len(parts) != 4 || parts[1] != "stdout" || parts[2] != "F" || parts[3] != "hello" {
		t.Fatalf("log line %q", raw)
	}
	if _, err := time.Parse(time.RFC3339Nano, parts[0]); err != nil {
		t.Fatalf("timestamp %q: %v", parts[0], err)
	}
	if st.Status != StatusExited || st.Exit == nil || st.Exit.FinishedAt.Before(st.StartedAt) {
		t.Fatalf("state after exit: %+v exit %+v", st, st.Exit)
	}
}

func TestSignals(t *testing.T) {
	lower := busyboxLayer(t)
	r := newRuntime(t)
	ctx := ctxT(t)
	// PID 1 gets only the signals it handles: the trap makes TERM count.
	spec := testSpec(lower, "sh", "-c", `trap "echo got TERM; exit 7" TERM; echo ready; while true; do sleep 0.05; done`)
	if _, err := r.Run(ctx, spec); err != nil {
		t.Fatal(err)
	}
	waitLog(t, r, spec.ID, "ready")
	if err := r.Signal(spec.ID, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	ex, err := r.Wait(ctx, spec.ID)
	if err != nil || ex.ExitCode != 7 {
		t.Fatalf("after SIGTERM: %+v, %v", ex, err)
	}
	spec = testSpec(lower, "sleep", "1000")
	if _, err := r.Run(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := r.Signal(spec.ID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	ex, err = r.Wait(ctx, spec.ID)
	if err != nil || ex.Signal != "SIGKILL" || ex.ExitCode != 137 {
		t.Fatalf("after SIGKILL: %+v, %v", ex, err)
	}
	if err := r.Signal(spec.ID, syscall.SIGTERM); err == nil {
		t.Fatal("signalling an exited container succeeded")
	}
}

func waitLog(t *testing.T, r *Runtime, id, want string) {
	t.Helper()
	st, err := r.State(id)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if b, _ := os.ReadFile(st.LogPath); strings.Contains(string(b), want) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	b, _ := os.ReadFile(st.LogPath)
	t.Fatalf("log never showed %q:\n%s", want, b)
}

// A restarted runtime (a new Runtime over the same root, as after a
// kubelet restart) finds the running container, signals and waits for it.
func TestStateSurvivesRuntimeRestart(t *testing.T) {
	lower := busyboxLayer(t)
	r := newRuntime(t)
	ctx := ctxT(t)
	spec := testSpec(lower, "sh", "-c", `trap "exit 9" TERM; echo up; while true; do sleep 0.05; done`)
	first, err := r.Run(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	waitLog(t, r, spec.ID, "up")
	r2, err := New(Config{Root: r.Root(), ShimPath: os.Args[0]})
	if err != nil {
		t.Fatal(err)
	}
	list, err := r2.List()
	if err != nil || len(list) != 1 {
		t.Fatalf("List after restart: %v, %v", list, err)
	}
	got := list[0]
	if got.ID != spec.ID || got.Status != StatusRunning || got.Pid != first.Pid || got.StartedAt.IsZero() {
		t.Fatalf("state after restart %+v, first %+v", got, first)
	}
	if err := r2.Signal(spec.ID, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	ex, err := r2.Wait(ctx, spec.ID)
	if err != nil || ex.ExitCode != 9 {
		t.Fatalf("wait after restart: %+v %v", ex, err)
	}
	if err := r2.Delete(ctx, spec.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := r.State(spec.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}

func TestUserAndCapabilities(t *testing.T) {
	lower := busyboxLayer(t)
	r := newRuntime(t)
	script := `echo id=$(id); echo capeff=$(grep CapEff /proc/self/status); echo capbnd=$(grep CapBnd /proc/self/status); echo home=$HOME; echo pwd=$(pwd)`
	for _, tc := range []struct {
		name     string
		mut      func(*Spec)
		id       string
		wantEff  func(uint64) bool
		wantBnd  func(uint64) bool
		home     string
		pwd      string
		wantFail string
	}{
		{name: "image user by name", mut: func(s *Spec) { s.Process.User = "alice"; s.Process.Cwd = "/work/dir" },
			id: "uid=1000(alice) gid=1000(alice) groups=50(staff),1000(alice)", wantEff: func(c uint64) bool { return c == 0 },
			home: "/home/alice", pwd: "/work/dir"},
		{name: "runAsUser overrides, supplementary groups", mut: func(s *Spec) {
			u, g := uint32(65534), uint32(65534)
			s.Process.User, s.Process.UID, s.Process.GID, s.Process.AdditionalGids = "alice", &u, &g, []uint32{2000}
		}, id: "uid=65534(nobody) gid=65534(nogroup) groups=2000,65534(nogroup)", wantEff: func(c uint64) bool { return c == 0 }},
		{name: "cap drop and add", mut: func(s *Spec) {
			s.Process.CapDrop = []string{"NET_RAW", "CAP_CHOWN"}
			s.Process.CapAdd = []string{"NET_ADMIN"}
		},
			id: "uid=0(root) gid=0(root)", home: "/root",
			wantEff: func(c uint64) bool { return c&(1<<13) == 0 && c&1 == 0 && c&(1<<12) != 0 },
			wantBnd: func(c uint64) bool { return c&(1<<13) == 0 && c&(1<<12) != 0 }},
		{name: "drop ALL", mut: func(s *Spec) { s.Process.CapDrop = []string{"ALL"} }, id: "uid=0(root)",
			wantEff: func(c uint64) bool { return c == 0 }, wantBnd: func(c uint64) bool { return c == 0 }},
		{name: "privileged", mut: func(s *Spec) { s.Privileged = true }, id: "uid=0(root)",
			wantEff: func(c uint64) bool { return c&(1<<21) != 0 }},
		{name: "unknown user", mut: func(s *Spec) { s.Process.User = "mallory" }, wantFail: `user "mallory": no such user`},
		{name: "missing executable", mut: func(s *Spec) { s.Process.Args = []string{"no-such-command"} }, wantFail: "no-such-command: executable file not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := testSpec(lower, "sh", "-c", script)
			tc.mut(spec)
			if tc.wantFail != "" {
				_, err := r.Create(ctxT(t), spec)
				if err == nil || !strings.Contains(err.Error(), tc.wantFail) {
					t.Fatalf("Create: %v, want an error with %q", err, tc.wantFail)
				}
				if _, err := r.State(spec.ID); !errors.Is(err, ErrNotFound) {
					t.Fatalf("failed container left behind: %v", err)
				}
				return
			}
			ex, out := runToExit(t, r, spec)
			if ex.ExitCode != 0 {
				t.Fatalf("exit %+v:\n%s", ex, out)
			}
			f := fields(out)
			if !strings.HasPrefix(f["id"], tc.id) {
				t.Errorf("id = %q, want prefix %q", f["id"], tc.id)
			}
			if tc.wantEff != nil && !tc.wantEff(parseCapLine(t, f["capeff"])) {
				t.Errorf("CapEff %s", f["capeff"])
			}
			if tc.wantBnd != nil && !tc.wantBnd(parseCapLine(t, f["capbnd"])) {
				t.Errorf("CapBnd %s", f["capbnd"])
			}
			if tc.home != "" && f["home"] != tc.home {
				t.Errorf("HOME = %q, want %q", f["home"], tc.home)
			}
			if tc.pwd != "" && f["pwd"] != tc.pwd {
				t.Errorf("pwd = %q, want %q", f["pwd"], tc.pwd)
			}
		})
	}
}

func TestMountsAndReadonlyRootfs(t *testing.T) {
	lower := busyboxLayer(t)
	r := newRuntime(t)
	rw, ro := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(ro, "config"), []byte("setting=1\n"), 0o644)
	spec := testSpec(lower, "sh", "-c", `
echo rw=$(echo hi > /mnt/rw/out && echo ok)
echo ro=$(echo hi > /mnt/ro/out 2>/dev/null && echo writable || echo readonly)
echo config=$(cat /mnt/ro/config)
echo root=$(touch /newfile 2>/dev/null && echo writable || echo readonly)
echo scratch=$(touch /scratch/x && echo ok)
echo tmp=$(touch /tmp/x && echo ok)
echo pwd=$(pwd)`)
	spec.ReadonlyRootfs = true
	spec.Process.Cwd = "/new/workdir" // created before / turns read-only
	spec.Mounts = []Mount{
		{Destination: "/mnt/rw", Source: rw},
		{Destination: "/mnt/ro", Source: ro, ReadOnly: true},
		{Destination: "/scratch", Type: "tmpfs", SizeBytes: 1 << 20},
		{Destination: "/tmp", Type: "tmpfs"},
	}
	ex, out := runToExit(t, r, spec)
	if ex.ExitCode != 0 {
		t.Fatalf("exit %+v:\n%s", ex, out)
	}
	f := fields(out)
	for k, want := range map[string]string{"rw": "ok", "ro": "readonly", "config": "setting=1", "root": "readonly", "scratch": "ok", "tmp": "ok", "pwd": "/new/workdir"} {
		if f[k] != want {
			t.Errorf("%s = %q, want %q", k, f[k], want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(rw, "out")); string(b) != "hi\n" {
		t.Errorf("host side of the rw volume: %q", b)
	}
	if _, err := os.Stat(filepath.Join(ro, "out")); err == nil {
		t.Error("a write reached the read-only volume")
	}
}

// Containers in one sandbox share its network, IPC and UTS namespaces and
// keep their own PID and mount namespaces.
func TestSandboxSharesNamespaces(t *testing.T) {
	lower := busyboxLayer(t)
	r := newRuntime(t)
	ctx := ctxT(t)
	sb := "sb-" + strconv.Itoa(os.Getpid())
	if err := r.CreateSandbox(ctx, sb, "podhost"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.RemoveSandbox(sb) })
	script := `echo host=$(hostname); echo etchost=$(cat /etc/hostname); echo net=$(readlink /proc/self/ns/net); echo ipc=$(readlink /proc/self/ns/ipc); echo pid=$(readlink /proc/self/ns/pid); echo lo=$(cat /sys/class/net/lo/operstate); echo done; sleep 1000`
	// Both run at once: namespace numbers of dead namespaces are reused.
	var seen []map[string]string
	for i := 0; i < 2; i++ {
		spec := testSpec(lower, "sh", "-c", script)
		spec.Sandbox = sb
		spec.Hostname = "ignored"
		st, err := r.Run(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		waitLog(t, r, spec.ID, "done")
		b, _ := os.ReadFile(st.LogPath)
		var out []string
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.SplitN(line, " ", 4); len(f) == 4 {
				out = append(out, f[3])
			}
		}
		seen = append(seen, fields(strings.Join(out, "\n")))
	}
	a, b := seen[0], seen[1]
	self, _ := os.Readlink("/proc/self/ns/net")
	if a["host"] != "podhost" || b["host"] != "podhost" || a["etchost"] != "podhost" {
		t.Errorf("hostnames %q %q, want the sandbox's", a["host"], b["host"])
	}
	if a["net"] == "" || a["net"] != b["net"] || a["ipc"] != b["ipc"] {
		t.Errorf("namespaces not shared: %v %v", a, b)
	}
	if a["pid"] == b["pid"] {
		t.Errorf("PID namespace shared: %v", a["pid"])
	}
	if a["net"] == self {
		t.Error("sandbox uses the host's network namespace")
	}
	if h, _ := os.Hostname(); h == "podhost" {
		t.Error("the sandbox renamed the host")
	}
	if a["lo"] != "unknown" {
		t.Errorf("sandbox loopback %q, want up", a["lo"])
	}
	for _, st := range must(r.List()) {
		r.Delete(ctx, st.ID, true)
	}
	if err := r.RemoveSandbox(sb); err != nil {
		t.Fatal(err)
	}
	spec := testSpec(lower, "true")
	spec.Sandbox = sb
	if _, err := r.Create(ctx, spec); err == nil {
		t.Fatal("a container joined a removed sandbox")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestCreateStartDelete(t *testing.T) {
	lower := busyboxLayer(t)
	r := newRuntime(t)
	ctx := ctxT(t)
	marker := t.TempDir()
	spec := testSpec(lower, "sh", "-c", "touch /m/started; sleep 1000")
	spec.Mounts = []Mount{{Destination: "/m", Source: marker}}
	st, err := r.Create(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != StatusCreated {
		t.Fatalf("status %s", st.Status)
	}
	time.Sleep(100 * time.Millisecond)
	if _, err := os.Stat(filepath.Join(marker, "started")); err == nil {
		t.Fatal("the process ran before Start")
	}
	if _, err := r.Create(ctx, spec); !errors.Is(err, ErrAlreadyExists) {
		t.Fatalf("second Create: %v", err)
	}
	// Descriptors the runtime's starter left open must not reach the
	// container (runc's CVE-2024-21626): open one without close-on-exec.
	leak, err := os.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer leak.Close()
	if _, err := unix.FcntlInt(leak.Fd(), unix.F_SETFD, 0); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	waitFile(t, filepath.Join(marker, "started"))
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", st.Pid))
	var names []string
	for _, fd := range fds {
		names = append(names, fd.Name())
	}
	if strings.Join(names, " ") != "0 1 2" {
		t.Errorf("the container's first process has descriptors %v, want 0 1 2", names)
	}
	if err := r.Start(ctx, spec.ID); !errors.Is(err, ErrNotCreated) {
		t.Fatalf("second Start: %v", err)
	}
	if err := r.Delete(ctx, spec.ID, false); !errors.Is(err, ErrRunning) {
		t.Fatalf("Delete without force: %v", err)
	}
	if err := r.Delete(ctx, spec.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(r.dir(spec.ID)); !os.IsNotExist(err) {
		t.Fatalf("container dir left: %v", err)
	}
	if sameProcess(st.Pid, st.PidStart) {
		t.Fatal("container process survived Delete")
	}
	if _, err := r.Create(ctx, &Spec{ID: "../x", Lower: []string{lower}, Process: Process{Args: []string{"true"}}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad id: %v", err)
	}
}

func TestSecureJoin(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "real/dir"), 0o755)
	os.Symlink("/real", filepath.Join(root, "abs"))
	os.Symlink("../../../../real", filepath.Join(root, "rel"))
	os.Symlink("/etc/../../..", filepath.Join(root, "up"))
	os.Symlink("loop", filepath.Join(root, "loop"))
	for _, tc := range []struct{ in, want string }{
		{"/real/dir", "/real/dir"},
		{"/abs/dir", "/real/dir"},
		{"/rel/dir", "/real/dir"},
		{"/up/etc", "/etc"},
		{"/../../etc/passwd", "/etc/passwd"},
		{"/missing/../../x", "/x"},
		{"/abs/new/file", "/real/new/file"},
		// A missing component does not end the checks: ".." comes back
		// to a symlink that must still resolve inside root.
		{"/missing/../abs/x", "/real/x"},
		{"/missing/../up/x", "/x"},
	} {
		got, err := secureJoin(root, tc.in)
		if err != nil || got != filepath.Join(root, tc.want) {
			t.Errorf("secureJoin(%q) = %q, %v; want %q", tc.in, got, err, filepath.Join(root, tc.want))
		}
	}
	if _, err := secureJoin(root, "/loop/x"); err == nil {
		t.Error("a symlink loop resolved")
	}
}

func TestResolveUser(t *testing.T) {
	passwd := "root:x:0:0:root:/root:/bin/sh\nbob:x:1001:100::/home/bob:/bin/sh\n"
	group := "root:x:0:\nusers:x:100:\nwheel:x:10:bob,carol\n"
	u := func(n uint32) *uint32 { return &n }
	for _, tc := range []struct {
		p    Process
		want identity
	}{
		{Process{}, identity{0, 0, []uint32{0}, "/root"}},
		{Process{User: "bob"}, identity{1001, 100, []uint32{100, 10}, "/home/bob"}},
		{Process{User: "bob:root"}, identity{1001, 0, []uint32{0, 10}, "/home/bob"}},
		{Process{User: "4242"}, identity{4242, 0, []uint32{0}, "/"}},
		{Process{User: "4242:7"}, identity{4242, 7, []uint32{7}, "/"}},
		{Process{User: "bob", UID: u(5), GID: u(6), AdditionalGids: []uint32{10, 20}}, identity{5, 6, []uint32{6, 10, 20}, "/"}},
	} {
		got, err := resolveUser(&tc.p, strings.NewReader(passwd), strings.NewReader(group))
		if err != nil || got.UID != tc.want.UID || got.GID != tc.want.GID || got.Home != tc.want.Home || !equalGroups(got.Groups, tc.want.Groups) {
			t.Errorf("resolveUser(%+v) = %+v, %v; want %+v", tc.p, got, err, tc.want)
		}
	}
	if _, err := resolveUser(&Process{User: "bob:nope"}, strings.NewReader(passwd), strings.NewReader(group)); err == nil {
		t.Error("unknown group accepted")
	}
}

func equalGroups(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// RuntimeDefault refuses what Docker's default profile refuses (mount,
// unshare, keyctl) unless a capability grants it, and leaves the rest.
func TestSeccompRuntimeDefault(t *testing.T) {
	lower := busyboxLayer(t)
	r := newRuntime(t)
	script := `echo mount=$(mount -t tmpfs none /tmp >/dev/null 2>&1 && echo ok || echo refused)
echo unshare=$(unshare -n true >/dev/null 2>&1 && echo ok || echo refused)
echo seccomp=$(grep Seccomp: /proc/self/status | cut -f2)
echo plain=$(echo fine)`
	for _, tc := range []struct {
		name        string
		profile     string
		capAdd      []string
		mount, mode string
	}{
		{"unconfined with CAP_SYS_ADMIN", SeccompUnconfined, []string{"SYS_ADMIN"}, "ok", "0"},
		{"RuntimeDefault", SeccompRuntimeDefault, nil, "refused", "2"},
		{"RuntimeDefault with CAP_SYS_ADMIN", SeccompRuntimeDefault, []string{"SYS_ADMIN"}, "ok", "2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := testSpec(lower, "sh", "-c", script)
			spec.Seccomp, spec.Process.CapAdd = tc.profile, tc.capAdd
			ex, out := runToExit(t, r, spec)
			f := fields(out)
			if ex.ExitCode != 0 || f["plain"] != "fine" {
				t.Fatalf("exit %+v:\n%s", ex, out)
			}
			if f["mount"] != tc.mount || f["unshare"] != tc.mount || f["seccomp"] != tc.mode {
				t.Errorf("mount %q seccomp mode %q, want %q %q\n%s", f["mount"], f["seccomp"], tc.mount, tc.mode, out)
			}
		})
	}
	if err := (&Spec{ID: "x", Lower: []string{"/l"}, Process: Process{Args: []string{"true"}}, Seccomp: "localhost/profile.json"}).Validate(); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown seccomp profile accepted: %v", err)
	}
}

func TestValidID(t *testing.T) {
	for id, want := range map[string]bool{
		"a": true, "web-1.2_x": true, "0abc": true, strings.Repeat("a", 64): true,
		"": false, "-a": false, ".a": false, "_a": false, "a/b": false, "..": false, "a b": false, strings.Repeat("a", 65): false, "é": false,
	} {
		if validID(id) != want {
			t.Errorf("validID(%q) = %v, want %v", id, !want, want)
		}
	}
}

// A spare monitor that died while waiting is replaced at hand-over; Close
// lets the waiting spare exit.
func TestSpareMonitor(t *testing.T) {
	lower := busyboxLayer(t)
	r, err := New(Config{Root: t.TempDir(), ShimPath: os.Args[0], SpareMonitor: true})
	if err != nil {
		t.Fatal(err)
	}
	spare := func() *monitorProc {
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			r.mu.Lock()
			m := r.spare
			r.mu.Unlock()
			if m != nil {
				return m
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatal("no spare monitor started")
		return nil
	}
	first := spare()
	if err := signalProcess(first.pid, first.start, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitProcess(ctxT(t), first.pid, first.start)
	ex, out := runToExit(t, r, testSpec(lower, "echo", "handed over"))
	if ex.ExitCode != 0 || out != "handed over\n" {
		t.Fatalf("after the spare died: %+v %q", ex, out)
	}
	next := spare()
	if next.pid == first.pid {
		t.Fatal("the dead spare is still the spare")
	}
	r.Close()
	if err := waitProcess(ctxT(t), next.pid, next.start); err != nil || sameProcess(next.pid, next.start) {
		t.Fatalf("spare monitor %d still running after Close: %v", next.pid, err)
	}
	list, _ := r.List()
	for _, st := range list {
		r.Delete(context.Background(), st.ID, true)
	}
}

// An init stage that dies before it is ready (here: killed, as an OOM
// kill or a too-low pids limit would) is reported with how it ended.
func TestInitDiedExplained(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "container.log")
	os.WriteFile(log, []byte("2026-11-23T10:00:00Z stderr F runtime: failed to create new OS thread\n2026-11-23T10:00:00Z stderr F fatal error: newosproc\n"), 0o600)
	for _, tc := range []struct {
		exit ExitStatus
		want string
	}{
		{ExitStatus{ExitCode: 137, Signal: "SIGKILL", OOMKilled: true}, "container init was OOM-killed (memory limit too low?) before it was ready: runtime: failed to create new OS thread | fatal error: newosproc"},
		{ExitStatus{ExitCode: 2}, "container init exited with code 2 before it was ready: runtime"},
		{ExitStatus{ExitCode: 128, Reason: "mount overlay root filesystem: invalid argument"}, "mount overlay root filesystem: invalid argument"},
	} {
		writeExit(dir, tc.exit)
		if err := initDied(dir, log); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.exit, err, tc.want)
		}
	}
}

func waitFile(t *testing.T, p string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(p); err == nil {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s never appeared", p)
}

// A killed monitor loses the exit, but Wait still returns once the
// container is gone (without spinning), and Delete cleans up.
func TestMonitorKilled(t *testing.T) {
	lower := busyboxLayer(t)
	r := newRuntime(t)
	ctx := ctxT(t)
	spec := testSpec(lower, "sleep", "0.5")
	st, err := r.Run(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := signalProcess(st.MonitorPid, st.MonitorStart, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitProcess(ctx, st.MonitorPid, st.MonitorStart)
	var before, after unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &before)
	if _, err := r.Wait(ctx, spec.ID); err == nil || !strings.Contains(err.Error(), "monitor is gone") {
		t.Fatalf("Wait after the monitor was killed: %v", err)
	}
	unix.Getrusage(unix.RUSAGE_SELF, &after)
	if cpu := time.Duration(after.Stime.Nano()+after.Utime.Nano()-before.Stime.Nano()-before.Utime.Nano()) * time.Nanosecond; cpu > 300*time.Millisecond {
		t.Errorf("Wait burnt %v of CPU waiting half a second", cpu)
	}
	if got, _ := r.State(spec.ID); got.Status != StatusUnknown {
		t.Fatalf("status %s, want unknown", got.Status)
	}
	if err := r.Delete(ctx, spec.ID, false); err != nil {
		t.Fatal(err)
	}
}

func TestProcessEnv(t *testing.T) {
	spec := &Spec{Process: Process{Env: []string{"PATH=/image/bin", "A=1", "B=2", "A=3", "PATH=/pod/bin"}}}
	got := strings.Join(processEnv(spec), " ")
	if !strings.HasPrefix(got, "PATH=/pod/bin A=3 B=2 HOSTNAME=") {
		t.Fatalf("env %q: want later values in the earlier places, one PATH", got)
	}
}
