package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/shepherd-lab/shepherd/test/bench/internal/benchutil"
)

// Targets the figures are held to.
const (
	targetPodsPerSec = 1000.0 // the target on a 2-core machine
	// k8sFloorPodsPerSec is Kubernetes' CI threshold for scheduler_perf
	// SchedulingBasic 5000Nodes_10000Pods: a reference, not a target.
	k8sFloorPodsPerSec = 270.0
)

// results are one run's figures.
type results struct {
	Config  config
	Machine benchutil.Machine
	// Setup is how long writing each kind of object straight to etcd took.
	Setup struct{ Nodes, Leases, Placed time.Duration }
	// Start: the scheduler's build, and from its start until /healthz
	// answered, its caches synced (by its log) and it led.
	Start struct {
		Build, Healthy, Synced, Leading time.Duration
		SyncedNodes, SyncedPods         int // as its log says; -1 unknown
	}
	Create struct {
		Pods int
		Took time.Duration // first create started -> last create returned
	}
	// Bound measured pods were seen bound; FirstBound and Span are from the
	// first create's start to the first and the last binding seen.
	Bound            int
	FirstBound, Span time.Duration
	Latency          benchutil.Latencies // per bound pod: create returned -> binding seen
	EarlyBinds       int                 // bindings seen before their create returned
	Stalled          bool
	Sched            schedFigures
	SelfCPU          time.Duration // this process (etcd, creates, watch) in the measured phase
	Final            finalState
	Violations       []string
	nodeOf           []string // where the watch saw each measured pod bound
}

type schedFigures struct {
	PeakRSS, RSS          int64         // bytes: VmHWM and VmRSS before it is stopped
	CPUMeasured, CPUTotal time.Duration // in the measured phase; over its life
	Metrics               metricsText   // /metrics when the last pod was bound
	LogLines              int
	Warnings              []warningCount
}

// finalState is what a list of every pod shows at the end.
type finalState struct {
	Pods, Unbound, NodesUsed, OverCapacity int
	MaxPods, MaxMilliCPU, MaxMemory        int64
	Events                                 int64 // events stored (the scheduler's Scheduled events)
}

// throughput is pods bound per second from the first create's start to the
// last binding seen.
func (r *results) throughput() float64 {
	if r.Span <= 0 {
		return 0
	}
	return float64(r.Bound) / r.Span.Seconds()
}

func (r *results) createRate() float64 {
	if r.Create.Took <= 0 {
		return 0
	}
	return float64(r.Create.Pods) / r.Create.Took.Seconds()
}

// attempts returns the scheduler's scheduler_schedule_attempts_total for a
// result, -1 when the scrape lacks it.
func (r *results) attempts(result string) int {
	v, ok := r.Sched.Metrics.sum("scheduler_schedule_attempts_total", `result="`+result+`"`)
	if !ok {
		return -1
	}
	return int(v)
}

// histogramMean is sum/count of a histogram of seconds, over the samples
// with the given labels; 0 when empty.
func (r *results) histogramMean(name string, labels ...string) time.Duration {
	sum, ok1 := r.Sched.Metrics.sum(name+"_sum", labels...)
	count, ok2 := r.Sched.Metrics.sum(name+"_count", labels...)
	if !ok1 || !ok2 || count == 0 {
		return 0
	}
	return time.Duration(sum / count * float64(time.Second))
}

// invalid says why the figures cannot be trusted, if they cannot: the
// scheduler did not bind every pod, or bound wrongly.
func (r *results) invalid() error {
	var why []string
	if r.Stalled || r.Bound < r.Config.Pods {
		why = append(why, fmt.Sprintf("only %d of %d pods were bound", r.Bound, r.Config.Pods))
	}
	if s := r.attempts("scheduled"); s != r.Config.Pods {
		why = append(why, fmt.Sprintf("the scheduler counts %d scheduled attempts for %d pods", s, r.Config.Pods))
	}
	if len(r.Violations) > 0 {
		why = append(why, fmt.Sprintf("%d correctness violations", len(r.Violations)))
	}
	if len(why) == 0 {
		return nil
	}
	return errors.New("the run is not valid: " + strings.Join(why, "; "))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }
func secs(d time.Duration) string {
	return fmt.Sprintf("%.2fs", d.Seconds())
}
func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// print writes the report.
func (r *results) print(out io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	m, c := r.Machine, r.Config
	p("Shepherd scheduler benchmark (scheduler_perf SchedulingBasic: %dNodes_%dPods, %d pods already placed)", c.Nodes, c.Pods, c.Placed)
	p("machine    %s/%s, %s, NumCPU %d, GOMAXPROCS %d, %s", m.OS, m.Arch, m.CPUModel, m.NumCPU, m.GOMAXPROCS, m.GoVersion)
	p("load       average %s at start, %s at end (other work on the machine skews every figure)", m.LoadBefore, m.LoadAfter)
	p("etcd       embedded in this process, fsync on, data dir on %s (%s)", m.DataDirFS, m.DataDir)
	p("scheduler  cmd/shepherd-scheduler as its own process, --leader-elect=true, talking to etcd over loopback gRPC;")
	p("           it shares the CPUs with etcd and with this process's creates and watch")
	p("cluster    %d nodes (cpu %s, memory %s, pods %d; Ready, live heartbeat lease), written straight to etcd, no kubelets",
		c.Nodes, nodeCPU, nodeMemory, nodePods)
	p("pods       1 container %s, requests = limits = cpu %s, memory %s; created through api.Pods.BeforeCreate + store.CreateMany",
		podImage, podCPU, podMemory)
	p("")

	p("SETUP      %d nodes %s, %d leases %s, %d bound pods %s (%d setup writers, batches of %d, %d for bound pods)",
		c.Nodes, secs(r.Setup.Nodes), c.Nodes, secs(r.Setup.Leases), c.Placed, secs(r.Setup.Placed),
		setupWorkers, maxBatch, maxBoundBatch)
	build := "given (-scheduler-binary)"
	if r.Start.Build > 0 {
		build = "built in " + secs(r.Start.Build)
	}
	p("START      scheduler %s; from its start: /healthz %s, caches synced %s (%d nodes, %d bound pods, by its log), leading %s",
		build, secs(r.Start.Healthy), secs(r.Start.Synced), r.Start.SyncedNodes, r.Start.SyncedPods, secs(r.Start.Leading))
	p("")

	p("1. CREATE %d pods, %d writers, CreateMany batches of %d: %s, %.0f pods/s", r.Create.Pods, c.Creators, c.Batch, secs(r.Create.Took), r.createRate())
	p("")

	tp := r.throughput()
	p("2. SCHEDULE: %d of %d pods seen bound (a store.Watch on pods opened before the creates)", r.Bound, c.Pods)
	if r.Stalled {
		p("   STALLED: no pod bound for %s; the figures below cover the pods that were", c.StallTimeout)
	}
	p("   throughput  %.0f pods/s = bound / (last binding seen - first create started = %s)   target >=%.0f  %s",
		tp, secs(r.Span), targetPodsPerSec, benchutil.PassMiss(tp >= targetPodsPerSec && !r.Stalled))
	p("               Kubernetes CI floor for this workload: %.0f pods/s  %s", k8sFloorPodsPerSec, benchutil.PassMiss(tp >= k8sFloorPodsPerSec))
	p("               first binding seen %s after the first create started", secs(r.FirstBound))
	p("   per pod     create returned -> binding seen:  avg %s  p50 %s  p99 %s  max %s",
		ms(r.Latency.Mean()), ms(r.Latency.Quantile(0.5)), ms(r.Latency.Quantile(0.99)), ms(r.Latency.Quantile(1)))
	if r.EarlyBinds > 0 {
		p("               %d pods were seen bound before their create returned (counted as 0)", r.EarlyBinds)
	}
	p("   scheduler   scheduler_schedule_attempts_total: scheduled %d (want %d), unschedulable %d, error %d",
		r.attempts("scheduled"), c.Pods, r.attempts("unschedulable"), r.attempts("error"))
	p("               mean scheduling attempt (algorithm + binding txn) %s; mean pod_scheduling_sli (queued -> bound) %s",
		ms(r.histogramMean("scheduler_scheduling_attempt_duration_seconds", `result="scheduled"`)),
		ms(r.histogramMean("scheduler_pod_scheduling_sli_duration_seconds")))
	p("")

	s := r.Sched
	p("3. SCHEDULER PROCESS")
	p("   memory      peak %s (VmHWM), %s resident at the end (VmRSS)", mib(s.PeakRSS), mib(s.RSS))
	heap, _ := s.Metrics.sum("go_memstats_heap_inuse_bytes")
	gcs, _ := s.Metrics.sum("go_gc_duration_seconds_count")
	p("               Go heap in use %s at the last binding (go_memstats_heap_inuse_bytes); %d GC cycles so far",
		mib(int64(heap)), int64(gcs))
	perPod := time.Duration(0)
	if r.Bound > 0 {
		perPod = s.CPUMeasured / time.Duration(r.Bound)
	}
	p("   CPU         %s from the first create to the last binding (%dµs per pod, %.2f cores), %s over its life",
		secs(s.CPUMeasured), perPod.Microseconds(), cores(s.CPUMeasured, r.Span), secs(s.CPUTotal))
	p("   this process (etcd, creates, watch) used %s of CPU meanwhile (%.2f cores)", secs(r.SelfCPU), cores(r.SelfCPU, r.Span))
	p("")

	f := r.Final
	p("4. CORRECTNESS (the watch, and a list of every pod at the end)")
	p("   pods %d, unbound %d; nodes used %d; most on one node: %d pods (of %d), %dm CPU (of %s), %s memory (of %s)",
		f.Pods, f.Unbound, f.NodesUsed, f.MaxPods, nodePods, f.MaxMilliCPU, nodeCPU, mib(f.MaxMemory), nodeMemory)
	p("   nodes over capacity: %d", f.OverCapacity)
	p("   events stored: %d", f.Events)
	if len(r.Violations) == 0 {
		p("   no pod bound twice, moved or unbound; no node over capacity: OK")
	} else {
		p("   !!! %d CORRECTNESS VIOLATIONS !!!", len(r.Violations))
		for i, v := range r.Violations {
			if i == 20 {
				p("   ... and %d more", len(r.Violations)-i)
				break
			}
			p("   !!! %s", v)
		}
	}
	p("")

	p("scheduler log: %d lines, %d distinct warnings/errors", s.LogLines, len(s.Warnings))
	for _, w := range s.Warnings {
		p("   %6d x %s", w.Count, w.Message)
		p("            e.g. %s", w.Example)
	}
	met := 0
	if tp >= targetPodsPerSec && !r.Stalled {
		met = 1
	}
	p("")
	if err := r.invalid(); err != nil {
		p("!!! %v", err)
	}
	p("targets met: %d of 1", met)
}

// cores is CPU time over wall time.
func cores(cpu, wall time.Duration) float64 {
	if wall <= 0 {
		return 0
	}
	return cpu.Seconds() / wall.Seconds()
}
