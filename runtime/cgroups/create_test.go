package cgroups

import (
	"bytes"
	"errors"
	"io/fs"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"syscall"
	"testing"
)

func TestCreateWritesResources(t *testing.T) {
	const leaf = "shepherd/kubepods/pod1/c1"
	tests := []struct {
		name string
		r    Resources
		want map[string]string // file in the leaf -> contents
		// unwritten are files that must keep the fake's initial contents.
		unwritten []string
	}{
		{
			name:      "no limits",
			r:         Resources{},
			want:      map[string]string{"cpu.max": "max 100000", "memory.max": "max", "pids.max": "max"},
			unwritten: []string{"cpu.weight", "memory.high"},
		},
		{
			name: "all limits",
			r:    Resources{CPUWeight: 39, CPUQuota: 50000, CPUPeriod: 100000, MemoryMax: 256 << 20, MemoryHigh: 200 << 20, PidsMax: 1024},
			want: map[string]string{
				"cpu.weight": "39", "cpu.max": "50000 100000", "memory.max": "268435456",
				"memory.high": "209715200", "pids.max": "1024",
			},
		},
		{
			name:      "quota with the default period",
			r:         Resources{CPUQuota: 250000},
			want:      map[string]string{"cpu.max": "250000 100000"},
			unwritten: []string{"cpu.weight"},
		},
		{
			name: "period without quota",
			r:    Resources{CPUPeriod: 50000},
			want: map[string]string{"cpu.max": "max 50000"},
		},
		{
			name: "weight only, from a request of 250m",
			r:    Resources{CPUWeight: SharesToWeight(MilliCPUToShares(250))},
			want: map[string]string{"cpu.weight": "35", "cpu.max": "max 100000", "memory.max": "max"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, fullControllers, true)
			m := openFake(t, f, Options{}, "")
			c, err := m.Create("kubepods/pod1/c1", tt.r)
			if err != nil {
				t.Fatal(err)
			}
			if c.Path != f.path(leaf) || c.Rel != "kubepods/pod1/c1" || c.Skipped != nil {
				t.Errorf("Cgroup = %+v", c)
			}
			for file, want := range tt.want {
				if got := f.get(leaf, file); got != want {
					t.Errorf("%s = %q, want %q", file, got, want)
				}
				if w := f.writesTo(leaf + "/" + file); len(w) != 1 {
					t.Errorf("%s written %d times (%q), want once", file, len(w), w)
				}
			}
			for _, file := range tt.unwritten {
				if w := f.writesTo(leaf + "/" + file); len(w) != 0 {
					t.Errorf("%s written: %q", file, w)
				}
			}
		})
	}
}

func TestCreateEnablesControllersDownThePath(t *testing.T) {
	f := newFake(t, fullControllers, true)
	m := openFake(t, f, Options{}, "")
	if _, err := m.Create("kubepods/pod1/c1", Resources{}); err != nil {
		t.Fatal(err)
	}
	all := "cpu cpuset hugetlb io memory pids"
	for _, dir := range []string{"shepherd", "shepherd/kubepods", "shepherd/kubepods/pod1"} {
		if got := f.get(dir, "cgroup.subtree_control"); got != all {
			t.Errorf("%s/cgroup.subtree_control = %q, want %q", dir, got, all)
		}
	}
	// The leaf gets them all, and enables none: it is to hold processes.
	if got := f.get("shepherd/kubepods/pod1/c1", "cgroup.controllers"); got != all {
		t.Errorf("leaf cgroup.controllers = %q", got)
	}
	if got := f.writesTo("shepherd/kubepods/pod1/c1/cgroup.subtree_control"); len(got) != 0 {
		t.Errorf("leaf subtree_control written: %q", got)
	}

	// A second container of the pod: nothing to enable again.
	f.writes = nil
	c2, err := m.Create("kubepods/pod1/c2", Resources{PidsMax: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range f.writes {
		if strings.HasSuffix(w.file, "cgroup.subtree_control") {
			t.Errorf("wrote %s = %q again", w.file, w.data)
		}
	}
	if err := c2.AddProc(4242); err != nil {
		t.Fatal(err)
	}
	if got, err := c2.Procs(); err != nil || !slices.Equal(got, []int{4242}) {
		t.Errorf("Procs() = %v, %v", got, err)
	}
}

func TestCreateAgainRewrites(t *testing.T) {
	f := newFake(t, fullControllers, true)
	m := openFake(t, f, Options{}, "")
	if _, err := m.Create("p/c", Resources{CPUQuota: 50000, MemoryMax: 1 << 30, PidsMax: 5}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Create("p/c", Resources{MemoryMax: 2 << 30}); err != nil {
		t.Fatalf("Create of an existing cgroup: %v", err)
	}
	for file, want := range map[string]string{"cpu.max": "max 100000", "memory.max": "2147483648", "pids.max": "max"} {
		if got := f.get("shepherd/p/c", file); got != want {
			t.Errorf("%s = %q, want %q: limits not asked for any more must be lifted", file, got, want)
		}
	}
}

func TestCreateSkipsWhatItCannotEnforce(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	f := newFake(t, "hugetlb", true)
	m := openFake(t, f, Options{Log: log}, hybridMountinfo)
	logs.Reset()

	r := Resources{CPUWeight: 100, CPUQuota: 20000, MemoryMax: 64 << 20, MemoryHigh: 60 << 20, PidsMax: 100}
	c, err := m.Create("kubepods/pod1/c1", r)
	if err != nil {
		t.Fatal(err)
	}
	wantKeys := []string{"cpu.max", "cpu.weight", "memory.high", "memory.max", "pids.max"}
	if got := slices.Sorted(maps.Keys(c.Skipped)); !slices.Equal(got, wantKeys) {
		t.Fatalf("Skipped keys = %v, want %v", got, wantKeys)
	}
	want := "the memory controller is unavailable: not offered by the cgroup v2 hierarchy at " + f.mount +
		" (the host gives it to cgroup v1, mounted at /sys/fs/cgroup/memory)"
	if c.Skipped["memory.max"] != want {
		t.Errorf("Skipped[memory.max] = %q, want %q", c.Skipped["memory.max"], want)
	}
	for _, w := range f.writes {
		if !strings.HasSuffix(w.file, "cgroup.subtree_control") {
			t.Errorf("wrote %s = %q on a hierarchy without its controller", w.file, w.data)
		}
	}
	// hugetlb still goes down the path.
	if got := f.get("shepherd/kubepods/pod1", "cgroup.subtree_control"); got != "hugetlb" {
		t.Errorf("pod subtree_control = %q", got)
	}

	// Logged once per resource, not once per container.
	if _, err := m.Create("kubepods/pod1/c2", r); err != nil {
		t.Fatal(err)
	}
	for _, res := range wantKeys {
		if n := strings.Count(logs.String(), "resource="+res+" "); n != 1 {
			t.Errorf("%s logged %d times, want once:\n%s", res, n, logs.String())
		}
	}

	// Limits nobody asked for are not "skipped".
	c3, err := m.Create("kubepods/pod1/c3", Resources{})
	if err != nil {
		t.Fatal(err)
	}
	if c3.Skipped != nil {
		t.Errorf("Skipped = %v for no limits", c3.Skipped)
	}
}

func TestCreateRejects(t *testing.T) {
	f := newFake(t, fullControllers, true)
	m := openFake(t, f, Options{}, "")
	for _, rel := range []string{"", ".", "/abs", "../escape", "a/../../b", "a/./b"} {
		if _, err := m.Create(rel, Resources{}); err == nil {
			t.Errorf("Create(%q) succeeded", rel)
		}
	}
	for _, r := range []Resources{{CPUWeight: 10001}, {CPUQuota: -1}, {MemoryMax: -1}, {MemoryHigh: -1}, {PidsMax: -1}} {
		if _, err := m.Create("c", r); err == nil || !strings.Contains(err.Error(), "invalid resources") {
			t.Errorf("Create with %+v: %v", r, err)
		}
	}
	// A pod cgroup holding a process cannot delegate to its containers.
	pod, err := m.Create("pod2", Resources{})
	if err != nil {
		t.Fatal(err)
	}
	if err := pod.AddProc(7); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Create("pod2/c1", Resources{}); !errors.Is(err, syscall.EBUSY) || !strings.Contains(err.Error(), "leaf") {
		t.Errorf("Create under a populated cgroup: %v, want EBUSY with a hint", err)
	}
}

func TestLoad(t *testing.T) {
	f := newFake(t, fullControllers, true)
	m := openFake(t, f, Options{}, "")
	if _, err := m.Load("kubepods/pod1/c1"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing cgroup: %v, want fs.ErrNotExist", err)
	}
	if _, err := m.Create("kubepods/pod1/c1", Resources{}); err != nil {
		t.Fatal(err)
	}
	c, err := m.Load("kubepods/pod1/c1")
	if err != nil {
		t.Fatal(err)
	}
	if c.Path != f.path("shepherd/kubepods/pod1/c1") || c.Rel != "kubepods/pod1/c1" {
		t.Errorf("Load = %+v", c)
	}
}
