package container

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shepherd-lab/shepherd/runtime/cgroups"
)

// A container runs in its own cgroup under the runtime's root, in a cgroup
// namespace rooted there; whatever limits the host cannot enforce are
// reported, not silently dropped; Delete removes the cgroup.
func TestContainerCgroup(t *testing.T) {
	lower := busyboxLayer(t)
	root := fmt.Sprintf("shepherd-test-container-%d", os.Getpid())
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
	ctx := ctxT(t)
	spec := testSpec(lower, "sh", "-c", "echo cgroup=$(cat /proc/self/cgroup); echo ready; sleep 1000")
	spec.Cgroup = "kubepods/podtest/" + spec.ID
	spec.Resources = cgroups.Resources{MemoryMax: 64 << 20, PidsMax: 100, CPUWeight: 100, CPUQuota: 50000}
	st, err := r.Run(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	waitLog(t, r, spec.ID, "ready")
	want := filepath.Join(m.RootPath(), "kubepods/podtest", spec.ID)
	if st.Cgroup != want {
		t.Fatalf("cgroup %q, want %q", st.Cgroup, want)
	}
	procs, err := os.ReadFile(filepath.Join(want, "cgroup.procs"))
	if err != nil || !strings.Contains(string(procs), fmt.Sprint(st.Pid)) {
		t.Fatalf("cgroup.procs %q (%v) lacks pid %d", procs, err, st.Pid)
	}
	b, _ := os.ReadFile(st.LogPath)
	// (Hybrid hosts list their v1 hierarchies first.)
	if !strings.Contains(string(b), "cgroup=0::/\n") && !strings.Contains(string(b), " 0::/\n") {
		t.Errorf("inside, /proc/self/cgroup should be the namespace root: %s", b)
	}
	have := map[string]bool{}
	for _, c := range m.Controllers() {
		have[c] = true
	}
	for file, controller := range map[string]string{"memory.max": "memory", "pids.max": "pids", "cpu.max": "cpu", "cpu.weight": "cpu"} {
		_, skipped := st.CgroupSkipped[file]
		if have[controller] == skipped {
			t.Errorf("%s: controller available %v, reported skipped %v (%v)", file, have[controller], skipped, st.CgroupSkipped)
		}
		if have[controller] {
			got, _ := os.ReadFile(filepath.Join(want, file))
			t.Logf("%s = %s", file, strings.TrimSpace(string(got)))
		}
	}
	stats, err := r.Stats(spec.ID)
	if err != nil || stats.Pids == 0 {
		t.Fatalf("stats %+v, %v", stats, err)
	}
	if err := r.Delete(ctx, spec.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(want); !os.IsNotExist(err) {
		t.Fatalf("cgroup left after Delete: %v", err)
	}
}
