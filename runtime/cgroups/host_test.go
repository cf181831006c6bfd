package cgroups

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests create cgroups in the host's own cgroup v2 hierarchy, whatever
// it offers, below a root of their own that they remove afterwards.

// openHost opens the host's hierarchy under a fresh root, skipping where
// that is impossible.
func openHost(t *testing.T) *Manager {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates cgroups in the host's cgroup v2 hierarchy")
	}
	root := "shepherd-test-" + rand.Text()[:12]
	m, err := Open(Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	if !m.Available() {
		t.Skipf("no usable cgroup v2 hierarchy on this host: %s", m.Unavailable()["cpu"])
	}
	t.Cleanup(func() {
		if err := (&Cgroup{Path: m.RootPath(), Rel: root}).Remove(); err != nil {
			t.Errorf("removing the test root: %v", err)
		}
	})
	return m
}

// startIn starts argv directly in c with CLONE_INTO_CGROUP and makes sure
// it is dead by the end of the test.
func startIn(t *testing.T, c *Cgroup, argv ...string) *exec.Cmd {
	t.Helper()
	dir, err := c.OpenDir()
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(dir.Fd())}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %v in %s: %v", argv, c.Path, err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd
}

// waitKilled waits for cmd and checks that SIGKILL ended it.
func waitKilled(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("Wait() = %v, want killed", err)
	}
	if ws, ok := exit.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("Wait() = %v, want signal: killed", err)
	}
}

func usable(m *Manager, controller string) bool { return slices.Contains(m.Controllers(), controller) }

func TestHostOpenReportsWhatTheHostOffers(t *testing.T) {
	m := openHost(t)
	offered, err := readSet(filepath.Join(m.Mount(), "cgroup.controllers"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, c := range enabledControllers() {
		if offered[c] {
			want = append(want, c)
		}
	}
	t.Logf("mount %s offers %v; Controllers() = %v; Unavailable() = %v", m.Mount(), slices.Sorted(maps.Keys(offered)), m.Controllers(), m.Unavailable())
	if got := m.Controllers(); !slices.Equal(got, want) {
		t.Errorf("Controllers() = %v, want %v (what %s/cgroup.controllers offers)", got, want, m.Mount())
	}
	un := m.Unavailable()
	for _, c := range reportedControllers() {
		if usable(m, c) == (un[c] != "") {
			t.Errorf("%s: usable %v, Unavailable reason %q: want exactly one", c, usable(m, c), un[c])
		}
	}
	_, err = os.Stat(filepath.Join(m.RootPath(), "cgroup.kill"))
	if m.CanKill() != (err == nil) || m.CanKill() == (un["cgroup.kill"] != "") {
		t.Errorf("CanKill() = %v, cgroup.kill stat %v, reason %q", m.CanKill(), err, un["cgroup.kill"])
	}
}

func TestHostContainerLifecycle(t *testing.T) {
	m := openHost(t)
	r := Resources{CPUWeight: 50, CPUQuota: 50000, MemoryMax: 64 << 20, PidsMax: 64}
	c, err := m.Create("kubepods/pod1/c1", r)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct{ file, controller, want string }{
		{"cpu.weight", "cpu", "50"},
		{"cpu.max", "cpu", "50000 100000"},
		{"memory.max", "memory", "67108864"},
		{"pids.max", "pids", "64"},
	} {
		if !usable(m, s.controller) {
			if c.Skipped[s.file] == "" {
				t.Errorf("%s neither written nor in Skipped %v", s.file, c.Skipped)
			}
			continue
		}
		b, err := os.ReadFile(filepath.Join(c.Path, s.file))
		if err != nil || strings.TrimSpace(string(b)) != s.want {
			t.Errorf("%s = %q, %v; want %q", s.file, b, err, s.want)
		}
	}
	t.Logf("Skipped: %v", c.Skipped)

	cmd := startIn(t, c, "sleep", "60")
	pid := cmd.Process.Pid

	// The kernel put it there from the start.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	rel, _ := filepath.Rel(m.Mount(), c.Path)
	if want := "0::/" + rel; !slices.Contains(strings.Split(strings.TrimSpace(string(b)), "\n"), want) {
		t.Errorf("/proc/%d/cgroup = %q, want a line %q", pid, b, want)
	}
	if procs, err := c.Procs(); err != nil || !slices.Equal(procs, []int{pid}) {
		t.Errorf("Procs() = %v, %v; want [%d]", procs, err, pid)
	}

	s, err := c.Stats()
	if err != nil {
		t.Fatalf("Stats(): %v", err)
	}
	t.Logf("Stats() = %+v", s)
	if s.Pids != 1 || s.HasMemory != usable(m, "memory") || s.HasPids != usable(m, "pids") {
		t.Errorf("Stats() = %+v", s)
	}
	if s.HasMemory && (s.MemoryLimit != 64<<20 || s.MemoryUsage == 0) {
		t.Errorf("Stats() memory = %+v", s)
	}
	pod, err := m.Load("kubepods/pod1")
	if err != nil {
		t.Fatal(err)
	}
	if ps, err := pod.Stats(); err != nil || ps.Pids != 1 || ps.CPUUsageNanos < s.CPUUsageNanos {
		t.Errorf("pod Stats() = %+v, %v: want its container's process and CPU", ps, err)
	}

	start := time.Now()
	if err := c.Kill(); err != nil {
		t.Fatal(err)
	}
	t.Logf("Kill took %v (cgroup.kill: %v)", time.Since(start), m.CanKill())
	if populated, err := isPopulated(filepath.Join(c.Path, "cgroup.events")); err != nil || populated {
		t.Errorf("after Kill: populated %v, %v", populated, err)
	}
	waitKilled(t, cmd)

	if err := c.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.Path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after Remove: %v", err)
	}
	if err := c.Remove(); err != nil {
		t.Errorf("second Remove: %v", err)
	}
	if _, err := m.Load("kubepods/pod1/c1"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load after Remove: %v", err)
	}
}

func TestHostKillBySignal(t *testing.T) {
	// What Kill does on kernels before 5.14, whatever this one has: a shell
	// with two children, all to be found and killed.
	m := openHost(t)
	pod, err := m.Create("pod-sig", Resources{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := m.Create("pod-sig/c1", Resources{})
	if err != nil {
		t.Fatal(err)
	}
	cmd := startIn(t, c, "sh", "-c", "sleep 60 & sleep 60 & wait")
	deadline := time.Now().Add(5 * time.Second)
	for {
		if procs, _ := c.Procs(); len(procs) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the shell's children did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Signal from the pod: its containers' processes count too.
	if err := pod.killBySignal(time.Now().Add(killTimeout)); err != nil {
		t.Fatal(err)
	}
	if procs, err := treeProcs(pod.Path); err != nil || len(procs) != 0 {
		t.Errorf("left: %v, %v", procs, err)
	}
	waitKilled(t, cmd)
	if b, err := os.ReadFile(filepath.Join(pod.Path, "cgroup.freeze")); err == nil && strings.TrimSpace(string(b)) != "0" {
		t.Errorf("cgroup.freeze = %q after Kill, want thawed", b)
	}
}

func TestHostOOMKill(t *testing.T) {
	m := openHost(t)
	if !usable(m, "memory") {
		t.Skipf("memory controller unavailable here: %s", m.Unavailable()["memory"])
	}
	c, err := m.Create("pod-oom/c1", Resources{MemoryMax: 16 << 20})
	if err != nil {
		t.Fatal(err)
	}
	// With swap the allocation would be swapped out instead of killed.
	if err := (kernelFS{}).WriteFile(filepath.Join(c.Path, "memory.swap.max"), "0"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	// tail keeps a line in memory, and /dev/zero has no newline.
	cmd := startIn(t, c, "sh", "-c", "head -c 64m /dev/zero | tail")
	if err := cmd.Wait(); err == nil {
		t.Fatal("allocating 64 MiB under a 16 MiB limit succeeded")
	}
	n, err := c.OOMKills()
	if err != nil || n < 1 {
		t.Errorf("OOMKills() = %d, %v; want at least 1", n, err)
	}
	pod, err := m.Load("pod-oom")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := pod.OOMKills(); err != nil || n < 1 {
		t.Errorf("pod OOMKills() = %d, %v; want its container's", n, err)
	}
}
