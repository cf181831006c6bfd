package cgroups

import (
	"errors"
	"io/fs"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const fullControllers = "cpuset cpu io memory hugetlb pids rdma misc"

func openFake(t *testing.T, f *fakeFS, opts Options, mountinfo string) *Manager {
	t.Helper()
	if opts.Mount == "" {
		opts.Mount = f.mount
	}
	m, err := open(opts, f.host(mountinfo))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return m
}

func TestOpenFullHierarchy(t *testing.T) {
	f := newFake(t, fullControllers, true)
	m := openFake(t, f, Options{}, "")

	if !m.Available() || m.Mount() != f.mount || m.RootPath() != f.path("shepherd") || !m.CanKill() {
		t.Fatalf("Available %v Mount %q RootPath %q CanKill %v", m.Available(), m.Mount(), m.RootPath(), m.CanKill())
	}
	want := []string{"cpu", "cpuset", "hugetlb", "io", "memory", "pids"}
	if got := m.Controllers(); !slices.Equal(got, want) {
		t.Errorf("Controllers() = %v, want %v", got, want)
	}
	if got := m.Unavailable(); len(got) != 0 {
		t.Errorf("Unavailable() = %v, want none", got)
	}
	// Enabled in the mount's subtree_control (for Root) and in Root's own
	// (for its children); rdma and misc are not Shepherd's to enable.
	for _, dir := range []string{".", "shepherd"} {
		if got := f.get(dir, "cgroup.subtree_control"); got != "cpu cpuset hugetlb io memory pids" {
			t.Errorf("%s/cgroup.subtree_control = %q", dir, got)
		}
	}
	// One write each, all controllers at once.
	for _, file := range []string{"cgroup.subtree_control", "shepherd/cgroup.subtree_control"} {
		if got := f.writesTo(file); !slices.Equal(got, []string{"+cpu +cpuset +hugetlb +io +memory +pids"}) {
			t.Errorf("writes to %s = %q", file, got)
		}
	}

	// Opening again finds everything in place and writes nothing.
	f.writes = nil
	openFake(t, f, Options{}, "")
	if len(f.writes) != 0 {
		t.Errorf("second Open wrote %v", f.writes)
	}
}

func TestOpenEnablesOnlyWhatIsMissing(t *testing.T) {
	f := newFake(t, fullControllers, true)
	f.put(".", "cgroup.subtree_control", "cpu memory\n") // systemd's doing
	openFake(t, f, Options{}, "")
	if got := f.writesTo("cgroup.subtree_control"); !slices.Equal(got, []string{"+cpuset +hugetlb +io +pids"}) {
		t.Errorf("writes to the mount's subtree_control = %q", got)
	}
}

func TestOpenNestedRoot(t *testing.T) {
	f := newFake(t, "cpu memory pids", true)
	m := openFake(t, f, Options{Root: "kube.slice/shepherd"}, "")
	if m.RootPath() != f.path("kube.slice/shepherd") {
		t.Fatalf("RootPath() = %q", m.RootPath())
	}
	for _, dir := range []string{".", "kube.slice", "kube.slice/shepherd"} {
		if got := f.get(dir, "cgroup.subtree_control"); got != "cpu memory pids" {
			t.Errorf("%s/cgroup.subtree_control = %q, want cpu memory pids", dir, got)
		}
	}
}

func TestOpenFindsMountInMountinfo(t *testing.T) {
	f := newFake(t, "cpu memory pids", true)
	mountinfo := "22 1 0:21 / / rw - ext4 /dev/vda rw\n" +
		"41 31 0:38 / " + f.mount + " rw,relatime shared:9 - cgroup2 cgroup2 rw\n"
	m, err := open(Options{}, f.host(mountinfo))
	if err != nil {
		t.Fatal(err)
	}
	if m.Mount() != f.mount || !m.Available() {
		t.Errorf("Mount() = %q Available %v, want %q", m.Mount(), m.Available(), f.mount)
	}
}

func TestOpenHybridHost(t *testing.T) {
	// As on a host whose cgroup v1 hierarchies hold every controller but
	// hugetlb: it works, enforces nothing but says why.
	f := newFake(t, "hugetlb", false)
	m := openFake(t, f, Options{}, hybridMountinfo)

	if !m.Available() {
		t.Fatal("Available() = false: cgroups can still be created")
	}
	if got := m.Controllers(); !slices.Equal(got, []string{"hugetlb"}) {
		t.Errorf("Controllers() = %v, want [hugetlb]", got)
	}
	un := m.Unavailable()
	wantKeys := []string{"cgroup.kill", "cpu", "cpuset", "io", "memory", "pids"}
	if got := slices.Sorted(maps.Keys(un)); !slices.Equal(got, wantKeys) {
		t.Fatalf("Unavailable() keys = %v, want %v", got, wantKeys)
	}
	for c, v1 := range map[string]string{"cpu": "cpu", "memory": "memory", "pids": "pids", "cpuset": "cpuset", "io": "blkio"} {
		want := "not offered by the cgroup v2 hierarchy at " + f.mount + " (the host gives it to cgroup v1, mounted at /sys/fs/cgroup/" + v1 + ")"
		if un[c] != want {
			t.Errorf("Unavailable()[%s] = %q, want %q", c, un[c], want)
		}
	}
	if m.CanKill() || !strings.Contains(un["cgroup.kill"], "5.14") {
		t.Errorf("CanKill() = %v, reason %q", m.CanKill(), un["cgroup.kill"])
	}
	// Unavailable returns a copy.
	un["cpu"] = "changed"
	if m.Unavailable()["cpu"] == "changed" {
		t.Error("Unavailable() shares its map")
	}
}

func TestOpenControllerTheKernelRefuses(t *testing.T) {
	f := newFake(t, "cpu memory pids", true)
	f.refuse["cpu"] = true // e.g. real-time processes without RT group scheduling
	m := openFake(t, f, Options{}, "")
	if got := m.Controllers(); !slices.Equal(got, []string{"memory", "pids"}) {
		t.Errorf("Controllers() = %v, want [memory pids]", got)
	}
	reason := m.Unavailable()["cpu"]
	if !strings.Contains(reason, "enabling it in "+filepath.Join(f.mount, "cgroup.subtree_control")+" failed") ||
		!strings.Contains(reason, "invalid argument") {
		t.Errorf("Unavailable()[cpu] = %q", reason)
	}
	// Controllers the kernel lacks entirely get the other reason.
	if reason := m.Unavailable()["io"]; !strings.Contains(reason, "the kernel lacks it") {
		t.Errorf("Unavailable()[io] = %q", reason)
	}
}

func TestOpenWithoutHierarchy(t *testing.T) {
	f := newFake(t, "", true)
	m, err := open(Options{}, f.host(hybridMountinfo[:strings.Index(hybridMountinfo, "41 31")]))
	if err != nil {
		t.Fatal(err)
	}
	if m.Available() || m.Mount() != "" || m.RootPath() != "" || len(m.Controllers()) != 0 || m.CanKill() {
		t.Errorf("Available %v Mount %q RootPath %q Controllers %v CanKill %v",
			m.Available(), m.Mount(), m.RootPath(), m.Controllers(), m.CanKill())
	}
	if got := slices.Sorted(maps.Keys(m.Unavailable())); !slices.Equal(got, []string{"cgroup.kill", "cpu", "cpuset", "io", "memory", "pids"}) {
		t.Errorf("Unavailable() keys = %v", got)
	}
	if _, err := m.Create("kubepods/pod1/c1", Resources{}); !errors.Is(err, ErrNoHierarchy) {
		t.Errorf("Create: %v, want ErrNoHierarchy", err)
	}
	if _, err := m.Load("kubepods/pod1/c1"); !errors.Is(err, ErrNoHierarchy) {
		t.Errorf("Load: %v, want ErrNoHierarchy", err)
	}
}

func TestOpenErrors(t *testing.T) {
	f := newFake(t, "cpu", true)
	if _, err := open(Options{Mount: t.TempDir()}, f.host("")); !errors.Is(err, fs.ErrNotExist) ||
		!strings.Contains(err.Error(), "not a cgroup2 mount") {
		t.Errorf("Open on a plain directory: %v", err)
	}
	for _, root := range []string{"/abs", "../up", "a/../../b", "a//b", "a/"} {
		if _, err := open(Options{Mount: f.mount, Root: root}, f.host("")); err == nil {
			t.Errorf("Open with Root %q succeeded", root)
		}
	}
	if _, err := open(Options{}, host{mountinfo: filepath.Join(t.TempDir(), "missing"), fs: f}); err == nil {
		t.Error("Open without a readable mountinfo succeeded")
	}
}
