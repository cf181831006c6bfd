package main

import (
	"context"
	"fmt"
	"time"
)

// idleFigures are one reading of the idle node: the kubelet process
// alone, and beside it the runtime's monitors and the containers' own
// processes, which are separate processes.
type idleFigures struct {
	Pods   int           // benchmark pods running
	Settle time.Duration // left alone this long before the memory was read
	// Kubelet is the kubelet process's memory after Settle.
	Kubelet memory
	// Window is how long CPU use was measured: the CPU window, or the
	// settle when there is none. KubeletCPU, MonitorCPU and APIServerCPU
	// are the CPU time each used in it (monitors: those there at both
	// ends); Events are the watch events of benchmark pods in it.
	Window                               time.Duration
	WindowIsSettle                       bool
	KubeletCPU, MonitorCPU, APIServerCPU time.Duration
	Events                               int
	// Monitors are the runtime's shepherd-monitor processes (one per
	// container, and a spare started ahead); Containers are their
	// children, the containers' own processes (`sleep`).
	Monitors, Containers procGroup
	APIServer            memory
	// From the kubelet's /metrics, read last (scraping costs the kubelet
	// a little CPU and memory).
	Goroutines, HeapInuse, RunningPods float64
	MetricsError                       string
}

// procGroup sums the memory of like processes.
type procGroup struct {
	Count    int
	RSS, PSS int64
	HasPSS   bool // every process's PSS was read
}

func (g *procGroup) add(m memory) {
	if g.Count == 0 {
		g.HasPSS = true
	}
	g.Count++
	g.RSS += m.RSS
	g.PSS += m.PSS
	g.HasPSS = g.HasPSS && m.HasPSS
}

// idle leaves the node alone for settle, reads the memory of the kubelet,
// the monitors and the containers, then measures CPU use over window (over
// the settle when window is 0).
func (c *cluster) idle(ctx context.Context, t *tracker, settle, window time.Duration) (idleFigures, error) {
	f := idleFigures{Pods: t.running(), Settle: settle, Window: window}
	kpid, apid := c.kubelet.Pid(), c.api.Pid()
	begin := c.cpuSnapshot(kpid, apid)
	events0 := t.eventCount()
	if err := c.sleepAlive(ctx, settle); err != nil {
		return f, err
	}
	var err error
	if f.Kubelet, err = readMemory(kpid); err != nil {
		return f, err
	}
	f.APIServer, _ = readMemory(apid)
	if f.Monitors, f.Containers, err = c.runtimeProcs(); err != nil {
		return f, err
	}
	if window > 0 {
		begin, events0 = c.cpuSnapshot(kpid, apid), t.eventCount()
		if err := c.sleepAlive(ctx, window); err != nil {
			return f, err
		}
	} else {
		f.Window, f.WindowIsSettle = settle, true
	}
	end := c.cpuSnapshot(kpid, apid)
	f.Events = t.eventCount() - events0
	f.KubeletCPU, f.APIServerCPU = end.kubelet-begin.kubelet, end.api-begin.api
	for pid, cpu := range end.monitors {
		if cpu0, ok := begin.monitors[pid]; ok {
			f.MonitorCPU += cpu - cpu0
		}
	}
	if m, err := c.scrapeKubelet(ctx); err != nil {
		f.MetricsError = err.Error()
	} else {
		f.Goroutines, _ = m.value("go_goroutines")
		f.HeapInuse, _ = m.value("go_memstats_heap_inuse_bytes")
		f.RunningPods, _ = m.value("kubelet_running_pods")
	}
	return f, nil
}

// cpuUse is the CPU time the kubelet, the apiserver and each monitor (by
// pid) had used at one moment.
type cpuUse struct {
	kubelet, api time.Duration
	monitors     map[int]time.Duration
}

func (c *cluster) cpuSnapshot(kpid, apid int) cpuUse {
	u := cpuUse{monitors: map[int]time.Duration{}}
	if st, err := readStat(kpid); err == nil {
		u.kubelet = st.CPU
	}
	if st, err := readStat(apid); err == nil {
		u.api = st.CPU
	}
	procs, _ := listProcesses()
	for _, p := range procs {
		if c.isMonitor(p) {
			u.monitors[p.PID] = p.CPU
		}
	}
	return u
}

// isMonitor says whether p is one of this run's container monitors: the
// runtime starts them from the shim beside the kubelet as
// "shepherd-monitor" (runtime/container). Other runtimes' monitors on the
// machine run other executables.
func (c *cluster) isMonitor(p process) bool {
	return p.Exe == c.bin("shepherd-shim") && p.Argv0 == "shepherd-monitor"
}

// runtimeProcs reads the memory of this run's monitors and of their
// children, the containers' processes.
func (c *cluster) runtimeProcs() (monitors, containers procGroup, err error) {
	procs, err := listProcesses()
	if err != nil {
		return monitors, containers, err
	}
	isMon := map[int]bool{}
	for _, p := range procs {
		if c.isMonitor(p) {
			isMon[p.PID] = true
			if m, err := readMemory(p.PID); err == nil {
				monitors.add(m)
			}
		}
	}
	for _, p := range procs {
		if isMon[p.PPID] {
			if m, err := readMemory(p.PID); err == nil {
				containers.add(m)
			}
		}
	}
	return monitors, containers, nil
}

// sleepAlive sleeps for d, failing early should the kubelet or the
// apiserver exit or ctx end.
func (c *cluster) sleepAlive(ctx context.Context, d time.Duration) error {
	end := time.Now().Add(d)
	for {
		if err := c.kubelet.AliveErr(); err != nil {
			return err
		}
		if err := c.api.AliveErr(); err != nil {
			return err
		}
		left := time.Until(end)
		if left <= 0 {
			return nil
		}
		if err := sleepCtx(ctx, min(left, 250*time.Millisecond)); err != nil {
			return err
		}
	}
}

// restartFigures describe the kubelet's restart over the same root
// directory, with the pods running: the new process adopts their
// containers.
type restartFigures struct {
	Stopped string        // how the old process ended
	Ready   time.Duration // from the new process's start to /healthz and the Node Ready
	// Events are the pods' watch events from the stop to the memory
	// reading; Replaced counts those showing a container replaced or
	// not running (there should be none: adopted containers keep running).
	Events, Replaced int
}

// restartKubelet stops the kubelet with SIGTERM, starts it again, and
// reads the idle node after the settle: the memory of a kubelet that
// started with the pods already running, without the startup step's
// garbage and high-water marks.
func (c *cluster) restartKubelet(ctx context.Context, t *tracker, res *results) error {
	events0, replaced0 := t.eventCount(), t.replaced()
	res.Restart.Stopped = c.kubelet.Stop(15 * time.Second)
	var err error
	if res.Restart.Ready, err = c.runKubelet(ctx); err != nil {
		return fmt.Errorf("restart the kubelet: %w", err)
	}
	if res.Restarted, err = c.idle(ctx, t, c.cfg.SettlePods, 0); err != nil {
		return err
	}
	res.Restart.Events, res.Restart.Replaced = t.eventCount()-events0, t.replaced()-replaced0
	return nil
}
