package cgroups

import (
	"errors"
	"io/fs"
	"testing"
)

func TestWorkingSet(t *testing.T) {
	tests := []struct{ usage, inactive, want uint64 }{
		{100 << 20, 30 << 20, 70 << 20},
		{100 << 20, 0, 100 << 20},
		{100 << 20, 100 << 20, 0},
		{10 << 20, 30 << 20, 0}, // read apart, the cache can exceed usage: clamp, no wrap-around
		{0, 0, 0},
	}
	for _, tt := range tests {
		if got := workingSet(tt.usage, tt.inactive); got != tt.want {
			t.Errorf("workingSet(%d, %d) = %d, want %d", tt.usage, tt.inactive, got, tt.want)
		}
	}
}

func TestStats(t *testing.T) {
	f := newFake(t, fullControllers, true)
	m := openFake(t, f, Options{}, "")
	c, err := m.Create("pod/c", Resources{MemoryMax: 512 << 20})
	if err != nil {
		t.Fatal(err)
	}
	const dir = "shepherd/pod/c"
	f.put(dir, "cpu.stat", "usage_usec 1500042\nuser_usec 1000000\nsystem_usec 500042\nnr_periods 0\n")
	f.put(dir, "memory.current", "104857600\n")
	f.put(dir, "memory.stat", "anon 73400320\nfile 31457280\nkernel 1000\nactive_file 10485760\ninactive_file 20971520\n")
	f.put(dir, "pids.current", "7\n")

	got, err := c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	want := Stats{
		CPUUsageNanos:    1500042000,
		MemoryUsage:      100 << 20,
		MemoryWorkingSet: 80 << 20,
		MemoryLimit:      512 << 20,
		Pids:             7,
		HasMemory:        true,
		HasPids:          true,
	}
	if got != want {
		t.Errorf("Stats() = %+v\nwant %+v", got, want)
	}

	// Cache larger than usage, no limit.
	f.put(dir, "memory.stat", "inactive_file 209715200\n")
	f.put(dir, "memory.max", "max\n")
	got, err = c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if got.MemoryWorkingSet != 0 || got.MemoryLimit != 0 {
		t.Errorf("working set %d limit %d, want 0 and 0", got.MemoryWorkingSet, got.MemoryLimit)
	}

	f.put(dir, "cpu.stat", "user_usec 1\n")
	if _, err := c.Stats(); err == nil {
		t.Error("Stats without usage_usec succeeded")
	}
}

func TestStatsWithoutControllers(t *testing.T) {
	f := newFake(t, "hugetlb", true)
	m := openFake(t, f, Options{}, hybridMountinfo)
	pod, err := m.Create("pod", Resources{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := m.Create("pod/c", Resources{})
	if err != nil {
		t.Fatal(err)
	}
	f.put("shepherd/pod", "cpu.stat", "usage_usec 20\n")
	f.put("shepherd/pod/c", "cgroup.procs", "10\n11\n12\n")

	got, err := pod.Stats()
	if err != nil {
		t.Fatal(err)
	}
	// Without pids.current, the processes of the pod's containers count.
	want := Stats{CPUUsageNanos: 20000, Pids: 3}
	if got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
	if _, err := c.OOMKills(); !errors.Is(err, ErrUnavailable) {
		t.Errorf("OOMKills without memory: %v, want ErrUnavailable", err)
	}
}

func TestOOMKills(t *testing.T) {
	f := newFake(t, fullControllers, true)
	m := openFake(t, f, Options{}, "")
	c, err := m.Create("pod/c", Resources{})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := c.OOMKills(); n != 0 || err != nil {
		t.Errorf("OOMKills() = %d, %v on a fresh cgroup", n, err)
	}
	f.put("shepherd/pod/c", "memory.events", "low 0\nhigh 12\nmax 40\noom 3\noom_kill 2\noom_group_kill 0\n")
	if n, err := c.OOMKills(); n != 2 || err != nil {
		t.Errorf("OOMKills() = %d, %v, want 2", n, err)
	}
	f.put("shepherd/pod/c", "memory.events", "oom_kill nope\n")
	if _, err := c.OOMKills(); err == nil {
		t.Error("OOMKills of a malformed memory.events succeeded")
	}
	if err := c.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.OOMKills(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OOMKills of a removed cgroup: %v, want fs.ErrNotExist", err)
	}
}

func TestFlatKeyed(t *testing.T) {
	data := []byte("usage_usec 10\nuser_usec 7\nusage 3\n")
	for key, want := range map[string]uint64{"usage_usec": 10, "user_usec": 7, "usage": 3} {
		if got, err := flatKeyed(data, key); got != want || err != nil {
			t.Errorf("flatKeyed(%q) = %d, %v, want %d", key, got, err, want)
		}
	}
	if _, err := flatKeyed(data, "usage_u"); err == nil {
		t.Error("a prefix of a key matched")
	}
}
