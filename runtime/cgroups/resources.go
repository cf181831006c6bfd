package cgroups

import (
	"fmt"
	"strconv"
)

// Resources are the limits [Manager.Create] writes. The zero value leaves
// every limit off.
type Resources struct {
	// CPUWeight is cpu.weight, 1..10000; 0 leaves the kernel's default (100).
	CPUWeight uint64
	// CPUQuota is cpu.max's quota in microseconds per period; 0 is "max".
	CPUQuota int64
	// CPUPeriod is cpu.max's period in microseconds; 0 is 100000.
	CPUPeriod uint64
	// MemoryMax is memory.max in bytes; 0 is "max".
	MemoryMax int64
	// MemoryHigh is memory.high in bytes; 0 leaves it as it is.
	MemoryHigh int64
	// PidsMax is pids.max; 0 is "max".
	PidsMax int64
}

const defaultCPUPeriod = 100000

func (r Resources) validate() error {
	switch {
	case r.CPUWeight > 10000:
		return fmt.Errorf("cpu weight %d is not in 1..10000", r.CPUWeight)
	case r.CPUQuota < 0:
		return fmt.Errorf("negative cpu quota %d", r.CPUQuota)
	case r.MemoryMax < 0:
		return fmt.Errorf("negative memory limit %d", r.MemoryMax)
	case r.MemoryHigh < 0:
		return fmt.Errorf("negative memory high %d", r.MemoryHigh)
	case r.PidsMax < 0:
		return fmt.Errorf("negative pids limit %d", r.PidsMax)
	}
	return nil
}

// setting is one interface file write.
type setting struct {
	file       string
	controller string
	value      string
	// limits is whether the value asks for more than the default: only
	// then is not writing it worth reporting as skipped.
	limits bool
}

// settings are the files r writes. Limits that are off are written too
// ("max"), so that creating an existing cgroup again resets what the new
// Resources no longer ask for.
func (r Resources) settings() []setting {
	var s []setting
	if r.CPUWeight != 0 {
		s = append(s, setting{"cpu.weight", "cpu", strconv.FormatUint(r.CPUWeight, 10), true})
	}
	period := r.CPUPeriod
	if period == 0 {
		period = defaultCPUPeriod
	}
	s = append(s, setting{"cpu.max", "cpu", maxOr(r.CPUQuota) + " " + strconv.FormatUint(period, 10), r.CPUQuota != 0 || r.CPUPeriod != 0})
	s = append(s, setting{"memory.max", "memory", maxOr(r.MemoryMax), r.MemoryMax != 0})
	if r.MemoryHigh != 0 {
		s = append(s, setting{"memory.high", "memory", strconv.FormatInt(r.MemoryHigh, 10), true})
	}
	s = append(s, setting{"pids.max", "pids", maxOr(r.PidsMax), r.PidsMax != 0})
	return s
}

// maxOr formats a limit where 0 means unlimited.
func maxOr(n int64) string {
	if n == 0 {
		return "max"
	}
	return strconv.FormatInt(n, 10)
}
