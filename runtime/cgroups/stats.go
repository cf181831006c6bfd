package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Stats are a cgroup's usage, hierarchical (the cgroup and its descendants).
type Stats struct {
	// CPUUsageNanos is cpu.stat's usage_usec in nanoseconds; the cgroup v2
	// core provides it without the cpu controller.
	CPUUsageNanos uint64
	// MemoryUsage is memory.current.
	MemoryUsage uint64
	// MemoryWorkingSet is memory.current less memory.stat's inactive_file,
	// never below 0: cAdvisor's container_memory_working_set_bytes, what
	// the kubelet evicts on.
	MemoryWorkingSet uint64
	// MemoryLimit is memory.max, 0 for "max".
	MemoryLimit uint64
	// Pids is pids.current (tasks, threads included) with the pids
	// controller, and without it the number of processes in the
	// cgroup.procs of the cgroup and its descendants.
	Pids uint64
	// HasMemory and HasPids say whether the memory and pids controllers are
	// available to the cgroup. Without them the memory fields are zero and
	// Pids counts processes.
	HasMemory, HasPids bool
}

// Stats reads the cgroup's usage.
func (c *Cgroup) Stats() (Stats, error) {
	s, err := readStats(c.Path)
	if err != nil {
		return Stats{}, fmt.Errorf("cgroup %q: %w", c.Rel, err)
	}
	return s, nil
}

func readStats(dir string) (Stats, error) {
	var s Stats
	has, err := readSet(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return s, err
	}
	usec, err := readFlatKeyed(filepath.Join(dir, "cpu.stat"), "usage_usec")
	if err != nil {
		return s, err
	}
	s.CPUUsageNanos = usec * 1000

	if has["memory"] {
		s.HasMemory = true
		if s.MemoryUsage, err = readSingleValue(filepath.Join(dir, "memory.current")); err != nil {
			return s, err
		}
		inactive, err := readFlatKeyed(filepath.Join(dir, "memory.stat"), "inactive_file")
		if err != nil {
			return s, err
		}
		s.MemoryWorkingSet = workingSet(s.MemoryUsage, inactive)
		if s.MemoryLimit, err = readSingleValue(filepath.Join(dir, "memory.max")); err != nil {
			return s, err
		}
	}

	if has["pids"] {
		s.HasPids = true
		if s.Pids, err = readSingleValue(filepath.Join(dir, "pids.current")); err != nil {
			return s, err
		}
	} else {
		pids, err := treeProcs(dir)
		if err != nil {
			return s, err
		}
		s.Pids = uint64(len(pids))
	}
	return s, nil
}

// workingSet is usage less the inactive file cache, which the kernel
// reclaims before it OOM-kills; 0 when the (separately read) cache is the
// larger.
func workingSet(usage, inactiveFile uint64) uint64 {
	if inactiveFile >= usage {
		return 0
	}
	return usage - inactiveFile
}

// OOMKills returns how many processes of the cgroup and its descendants the
// OOM killer has killed, memory.events' oom_kill. It wraps [ErrUnavailable]
// without the memory controller.
//
// It reads memory.events rather than memory.events.local. The kernel
// counts a kill in the victim's own cgroup whichever limit ran out, its own
// or a pod's above it, so for a container (a leaf) both files say the
// same; for a pod only the hierarchical file counts its containers' kills,
// and it exists on kernels before 5.2, which lack memory.events.local.
func (c *Cgroup) OOMKills() (uint64, error) {
	has, err := readSet(filepath.Join(c.Path, "cgroup.controllers"))
	if err != nil {
		return 0, fmt.Errorf("cgroup %q: %w", c.Rel, err)
	}
	if !has["memory"] {
		return 0, fmt.Errorf("cgroup %q: memory.events: %w", c.Rel, ErrUnavailable)
	}
	n, err := readFlatKeyed(filepath.Join(c.Path, "memory.events"), "oom_kill")
	if errors.Is(err, fs.ErrNotExist) {
		// The controller is there but not its file: the cgroup is gone.
		_, statErr := os.Stat(c.Path)
		if statErr == nil {
			err = fmt.Errorf("memory.events: %w", ErrUnavailable)
		}
	}
	if err != nil {
		return 0, fmt.Errorf("cgroup %q: %w", c.Rel, err)
	}
	return n, nil
}
