package container

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/shepherd-lab/shepherd/runtime/cgroups"
)

// These tests need the cpu, memory and pids controllers of a full cgroup v2
// hierarchy, and skip without them (as on hosts that give the controllers
// to cgroup v1). `make test-vm` runs them in a VM that has them.

// cgroupV2Runtime returns a runtime whose containers get cgroups below a
// fresh root, skipping unless the controllers are all usable.
func cgroupV2Runtime(t *testing.T, controllers ...string) (*Runtime, *cgroups.Manager) {
	t.Helper()
	requireRoot(t)
	root := fmt.Sprintf("shepherd-test-cgroupv2-%d", os.Getpid())
	m, err := cgroups.Open(cgroups.Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	if !m.Available() {
		t.Skip("no cgroup v2 hierarchy on this host (make test-vm runs this test in a VM)")
	}
	t.Cleanup(func() {
		if err := (&cgroups.Cgroup{Path: m.RootPath(), Rel: root}).Remove(); err != nil {
			t.Errorf("removing the test root: %v", err)
		}
	})
	for _, c := range controllers {
		if !slices.Contains(m.Controllers(), c) {
			t.Skipf("the %s controller is unavailable here (make test-vm runs this test in a VM that has it): %s", c, m.Unavailable()[c])
		}
	}
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
	return r, m
}

func readCgroupFile(t *testing.T, dir, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// The limits of a container's spec are written into its own cgroup, which
// the container sees as its /sys/fs/cgroup, and its stats report them.
func TestContainerCgroupV2Limits(t *testing.T) {
	lower := busyboxLayer(t)
	r, m := cgroupV2Runtime(t, "cpu", "memory", "pids")
	ctx := ctxT(t)
	spec := testSpec(lower, "sh", "-c", "echo inside=$(cat /sys/fs/cgroup/memory.max),$(cat /sys/fs/cgroup/cpu.max),$(cat /sys/fs/cgroup/pids.max); echo ready; sleep 1000")
	spec.Cgroup = "kubepods/podlimits/" + spec.ID
	spec.Resources = cgroups.Resources{CPUWeight: 42, CPUQuota: 50000, MemoryMax: 32 << 20, PidsMax: 20}
	st, err := r.Run(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.CgroupSkipped) != 0 {
		t.Errorf("skipped %v with cpu, memory and pids available", st.CgroupSkipped)
	}
	if want := filepath.Join(m.RootPath(), spec.Cgroup); st.Cgroup != want {
		t.Fatalf("cgroup %q, want %q", st.Cgroup, want)
	}
	for file, want := range map[string]string{
		"memory.max": "33554432",
		"cpu.max":    "50000 100000",
		"cpu.weight": "42",
		"pids.max":   "20",
	} {
		if got := readCgroupFile(t, st.Cgroup, file); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	waitLog(t, r, spec.ID, "ready")
	b, _ := os.ReadFile(st.LogPath)
	if !strings.Contains(string(b), "inside=33554432,50000 100000,20\n") {
		t.Errorf("inside, /sys/fs/cgroup should show the container's limits: %s", b)
	}
	s, err := r.Stats(spec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !s.HasMemory || !s.HasPids || s.MemoryLimit != 32<<20 || s.MemoryUsage == 0 || s.Pids == 0 {
		t.Errorf("Stats() = %+v; want memory and pids, a 32 MiB limit, some usage, a process", s)
	}
}

// pids.max holds inside the container: forks past it fail.
func TestContainerPidsLimit(t *testing.T) {
	lower := busyboxLayer(t)
	r, _ := cgroupV2Runtime(t, "pids")
	// sh and 31 sleeps fit; a later fork fails, and busybox sh gives up.
	// (The limit leaves room for the init stage, a Go program, whose
	// threads count before its execve: below about 6 it cannot start.)
	spec := testSpec(lower, "sh", "-c", "for i in $(busybox seq 40); do sleep 1000 & done; echo forked all")
	spec.Resources = cgroups.Resources{PidsMax: 32}
	ex, out := runToExit(t, r, spec)
	if ex.ExitCode == 0 || strings.Contains(out, "forked all") {
		t.Errorf("40 forks under pids.max 32: exit %+v, output %q", ex, out)
	}
	st, err := r.State(spec.ID)
	if err != nil {
		t.Fatal(err)
	}
	events := readCgroupFile(t, st.Cgroup, "pids.events")
	if f := fields(strings.ReplaceAll(events, " ", "=")); f["max"] == "" || f["max"] == "0" {
		t.Errorf("pids.events = %q, want forks refused at the limit", events)
	}
}

// A container that outgrows memory.max is OOM-killed, and its exit says so;
// a container killed otherwise is not reported as OOM-killed.
func TestContainerOOMKilled(t *testing.T) {
	lower := busyboxLayer(t)
	r, _ := cgroupV2Runtime(t, "memory")
	ctx := ctxT(t)
	// tail keeps a line in memory, and /dev/zero has no newline. (The
	// layer has no tail link.)
	spec := testSpec(lower, "sh", "-c", "head -c 100m /dev/zero | busybox tail")
	spec.Resources = cgroups.Resources{MemoryMax: 32 << 20}
	st, err := r.Create(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	// With swap the allocation would be swapped out instead of killed.
	if err := os.WriteFile(filepath.Join(st.Cgroup, "memory.swap.max"), []byte("0"), 0); err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	if err := r.Start(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	ex, err := r.Wait(ctx, spec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !ex.OOMKilled || ex.ExitCode != 137 {
		t.Errorf("100 MiB under a 32 MiB memory.max: exit %+v, want OOMKilled and exit code 137", ex)
	}
	if n, err := (&cgroups.Cgroup{Path: st.Cgroup}).OOMKills(); err != nil || n < 1 {
		t.Errorf("OOMKills() = %d, %v; want at least 1", n, err)
	}
	if got, err := r.State(spec.ID); err != nil {
		t.Error(err)
	} else if got.Exit == nil || !got.Exit.OOMKilled {
		t.Errorf("State() after the OOM kill: status %s, exit %+v; want OOMKilled", got.Status, got.Exit)
	}

	spec = testSpec(lower, "sleep", "1000")
	spec.Resources = cgroups.Resources{MemoryMax: 32 << 20}
	if _, err := r.Run(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := r.Signal(spec.ID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	ex, err = r.Wait(ctx, spec.ID)
	if err != nil || ex.OOMKilled || ex.ExitCode != 137 {
		t.Errorf("after SIGKILL: exit %+v, %v; want 137, not OOMKilled", ex, err)
	}
}
