// Package benchutil holds what the benchmark commands under test/bench
// share: the facts about the machine a run happened on, the process's own
// CPU time, latency quantiles, and the shape of a benchmark command (its
// -quick flag, its exit codes). Each command keeps its own measurements and
// the wording of its report.
package benchutil

import (
	"bufio"
	"os"
	"runtime"
	"strings"
)

// Machine describes where a run happened.
type Machine struct {
	OS, Arch, GoVersion, CPUModel string
	NumCPU, GOMAXPROCS            int
	// DataDir is etcd's data directory and DataDirFS the file system it is
	// on (see FSType).
	DataDir, DataDirFS string
	// LoadBefore and LoadAfter are /proc/loadavg's 1, 5 and 15 minute load
	// averages when the run began and ended: other work on the machine
	// skews every figure. MachineFacts sets LoadBefore; the command sets
	// LoadAfter, with LoadAverage, once it has measured.
	LoadBefore, LoadAfter string
}

// MachineFacts describes this machine, with etcd's data in dataDir, as a
// run begins. What it cannot learn reads "unknown".
func MachineFacts(dataDir string) Machine {
	m := Machine{
		OS: runtime.GOOS, Arch: runtime.GOARCH, GoVersion: runtime.Version(),
		NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		DataDir: dataDir, DataDirFS: FSType(dataDir), CPUModel: "unknown",
		LoadBefore: LoadAverage(),
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// LoadAverage returns the 1, 5 and 15 minute load averages, or "unknown".
func LoadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
