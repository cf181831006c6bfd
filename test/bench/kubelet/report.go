package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/shepherd-lab/shepherd/test/bench/internal/benchutil"
)

// Targets, from the issue.
const (
	targetP99 = time.Second // Kubernetes' SLO is 5 s
	sloP99    = 5 * time.Second
	// targetRSS is for the kubelet process alone, idle (k3s's agent uses
	// about 275 MB).
	targetRSS = 50 * mb
	mb        = 1000 * 1000
)

// results are one run's figures, and the facts needed to read them.
type results struct {
	Config  config
	Machine benchutil.Machine
	Kernel  string
	Setup   struct {
		Build                  time.Duration // 0: -bin-dir
		BinSource, ImageSource string
		ImageID                string
		KubeletSize            int64 // the shepherd-kubelet executable's size
		// APIReady and NodeReady are from each process's start to its
		// /readyz passing and to the Node being Ready.
		APIReady, NodeReady time.Duration
	}
	Empty      idleFigures // idle, no pods, before the startup step
	Startup    startup
	Scale      scaling
	WithPods   idleFigures // idle with MemoryPods pods
	Restart    restartFigures
	Restarted  idleFigures // idle with MemoryPods pods, the kubelet restarted
	KubeletLog benchutil.LogSummary
	Cleanup    *cleanupReport
}

// target is one figure against its limit.
type target struct {
	Text     string
	Value    string
	Met      bool
	Measured bool
}

func (r *results) targets() []target {
	p99 := r.Startup.Latency.Quantile(0.99)
	return []target{
		{fmt.Sprintf("pod startup p99 <= %v (Kubernetes' SLO: <= %v)", targetP99, sloP99), ms(p99) + " ms",
			p99 <= targetP99, r.Startup.complete()},
		{fmt.Sprintf("kubelet RSS idle, 0 pods (a) <= %d MB", targetRSS/mb), mbText(r.Empty.Kubelet.RSS) + " MB",
			r.Empty.Kubelet.RSS <= targetRSS, r.Empty.Kubelet.RSS > 0},
		{fmt.Sprintf("kubelet RSS idle, %d pods (b) <= %d MB", r.Config.MemoryPods, targetRSS/mb),
			fmt.Sprintf("%s MB (c: %s MB)", mbText(r.WithPods.Kubelet.RSS), mbText(r.Restarted.Kubelet.RSS)),
			r.WithPods.Kubelet.RSS <= targetRSS, r.WithPods.Kubelet.RSS > 0},
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }

func mbText(b int64) string { return fmt.Sprintf("%.1f", float64(b)/mb) }

func kbText(b int64) string { return fmt.Sprintf("%.0f", float64(b)/1000) }

func secText(f float64) string {
	if math.IsNaN(f) {
		return "-"
	}
	return fmt.Sprintf("%.3f", f)
}

// print writes the report.
func (r *results) print(out io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	m, c, s := r.Machine, r.Config, r.Startup
	p("Shepherd kubelet benchmark: pod startup latency and idle memory, one node, warm image")
	p("machine    %s/%s, %s, NumCPU %d, GOMAXPROCS %d, %s, kernel %s", m.OS, m.Arch, m.CPUModel, m.NumCPU, m.GOMAXPROCS, m.GoVersion, r.Kernel)
	p("load       average %s at start, %s at end (other work on the machine skews every figure)", m.LoadBefore, m.LoadAfter)
	if r.Setup.Build > 0 {
		p("binaries   shepherd-apiserver, shepherd-kubelet, shepherd-shim %s (go build took %.1fs)", r.Setup.BinSource, r.Setup.Build.Seconds())
	} else {
		p("binaries   shepherd-apiserver, shepherd-kubelet, shepherd-shim from %s", r.Setup.BinSource)
	}
	p("cluster    shepherd-apiserver with its embedded etcd (data on %s), Ready in %.1fs; one shepherd-kubelet, a",
		m.DataDirFS, r.Setup.APIReady.Seconds())
	p("           separate process (--node-lease-duration default, its own --root-dir and --cgroup-root), Node Ready")
	p("           %.1fs after it started; this program's client-go talks to the apiserver over loopback HTTP", r.Setup.NodeReady.Seconds())
	p("image      %s %s, imported with `shepherd-kubelet images import` from %s: warm", imageTag, short(r.Setup.ImageID), r.Setup.ImageSource)
	p("pods       one container each: image %q, imagePullPolicy IfNotPresent, `sleep 3600`; created with spec.nodeName", podImage)
	p("           set, so no scheduler runs and none of its time is in these figures")
	p("")

	p("1. pod startup latency (%d pods)", s.Pods)
	pace := fmt.Sprintf("paced at %g pods/s", c.QPS)
	if c.QPS == 0 {
		pace = "unpaced"
	}
	p("method     a watch on the pods is opened first; %d creators, %s, create the pods: %.1f pods/s achieved", c.Creators, pace, s.rate())
	p("           (first create sent to last acknowledged: %.2fs). Per pod: from its create acknowledged to the first", s.CreateSpan.Seconds())
	p("           watch event with phase Running and every container running")
	p("%-36s %8s %8s %8s %8s %8s %5s", "latency, ms", "p50", "p90", "p99", "max", "mean", "n")
	row := func(name string, l benchutil.Latencies) {
		p("  %-34s %8s %8s %8s %8s %8s %5d", name, ms(l.Quantile(0.5)), ms(l.Quantile(0.9)), ms(l.Quantile(0.99)),
			ms(l.Quantile(1)), ms(l.Mean()), len(l))
	}
	row("create acknowledged -> Running", s.Latency)
	row("create sent -> Running", s.FromSent)
	row("the create call (sent -> ack)", s.CreateCall)
	p("throughput %d of %d pods Running, the first %.2fs and the last %.2fs after the first create: %.1f pods/s", s.Running, s.Pods,
		s.FirstRunning.Seconds(), s.Span.Seconds(), s.throughput())
	p("           %d watch events for these pods until they ran (%.1f a pod)", s.Events, float64(s.Events)/float64(max(s.Pods, 1)))
	if s.Early > 0 {
		p("           %d pods were seen Running before their create was acknowledged; counted as 0", s.Early)
	}
	for _, st := range s.Stuck {
		p("  NOT RUNNING %s", st)
	}
	switch h := s.SLI; {
	case s.MetricsError != "":
		p("kubelet    /metrics: %s", s.MetricsError)
	case !h.Found:
		p("kubelet    /metrics has no kubelet_pod_start_sli_duration_seconds")
	default:
		le1, _ := h.AtMost(1)
		p("kubelet_pod_start_sli_duration_seconds, the kubelet's own (cross-check): %.0f observations, mean %ss,", h.Count, secText(h.Mean()))
		p("           estimated p50 %ss, p99 %ss (interpolated in buckets 0.5, 1, 2, ... s), %.0f at most 1 s", secText(h.Quantile(0.5)), secText(h.Quantile(0.99)), le1)
		p("           It counts from the pod's creationTimestamp, which has one-second resolution (truncated), so it")
		p("           reads 0 to 1 s (0.5 s on average) higher than the latency above")
		p("           kubelet_running_pods %.0f", s.RunningPods)
		if len(s.RuntimeOps) > 0 {
			var parts []string
			for _, o := range s.RuntimeOps {
				parts = append(parts, fmt.Sprintf("%s %s ms (%.0f)", o.Op, ms(time.Duration(o.Mean*float64(time.Second))), o.Count))
			}
			p("kubelet_runtime_operations_duration_seconds, mean (count): %s", strings.Join(parts, ", "))
		}
	}
	p("")

	r.printIdle(p)
	p("")

	p("targets")
	met := 0
	for _, t := range r.targets() {
		switch {
		case !t.Measured:
			p("  %-46s not measured", t.Text)
		default:
			if t.Met {
				met++
			}
			p("  %-46s %24s  %s", t.Text, t.Value, benchutil.PassMiss(t.Met))
		}
	}
	p("  (for scale: k3s's agent process uses about 275 MB)")
	p("")

	l := r.KubeletLog
	p("kubelet log: %d lines, %d distinct warnings or errors", l.Lines, len(l.Warnings))
	for i, w := range l.Warnings {
		if i == 8 {
			p("  ... %d more", len(l.Warnings)-i)
			break
		}
		p("  %dx %s", w.Count, w.Message)
		p("     e.g. %s", truncate(w.Example, 300))
	}
	p("")
	if r.Cleanup != nil {
		printCleanup(r.Cleanup, p)
		p("")
	}
	p("targets met: %d of %d", met, len(r.targets()))
}

// printIdle writes step 2: the idle node's memory and CPU.
func (r *results) printIdle(p func(string, ...any)) {
	p("2. memory and CPU of the idle node")
	sc := r.Scale
	how := fmt.Sprintf("(%d created in step 1)", sc.To)
	switch {
	case sc.To < sc.From:
		how = fmt.Sprintf("(deleted down to them from %d in %.1fs, grace %d s)", sc.From, sc.Took.Seconds(), deleteGrace)
	case sc.To > sc.From:
		how = fmt.Sprintf("(created up to them from %d in %.1fs)", sc.From, sc.Took.Seconds())
	}
	p("method     three readings of the idle node, each after leaving it alone: (a) no pods, before step 1, %v idle;", r.Empty.Settle)
	p("           (b) %d pods after step 1 %s, %v idle; (c) the same pods after", r.WithPods.Pods, how, r.WithPods.Settle)
	p("           restarting the kubelet (SIGTERM, then a new process on the same root, which adopts the running")
	p("           containers), %v idle: a kubelet free of step 1's garbage and high-water marks.", r.Restarted.Settle)
	p("           RSS, its anon and file parts, peak (VmHWM) and threads from /proc/<pid>/status; PSS from")
	p("           /proc/<pid>/smaps_rollup (shared pages split between their users); heap is the kubelet's")
	p("           go_memstats_heap_inuse_bytes. MB = 10^6 bytes. The kubelet rows are the kubelet process alone;")
	p("           the runtime's monitors (one per container, plus a spare started ahead) and the containers'")
	p("           `sleep`s are processes of their own, listed below it")
	readings := []struct {
		label string
		f     idleFigures
	}{{"(a) kubelet, 0 pods", r.Empty}, {fmt.Sprintf("(b) kubelet, %d pods", r.WithPods.Pods), r.WithPods},
		{fmt.Sprintf("(c) kubelet, %d, restarted", r.Restarted.Pods), r.Restarted}}
	p("  %-26s %7s %7s %7s %7s %7s %7s %8s %7s", "", "RSS MB", "PSS MB", "anon", "file", "peak", "threads", "gorout.", "heap")
	for _, rd := range readings {
		k := rd.f.Kubelet
		p("  %-26s %7s %7s %7s %7s %7s %7d %8.0f %7s", rd.label, mbText(k.RSS), pssText(k.PSS, k.HasPSS),
			mbText(k.Anon), mbText(k.File), mbText(k.Peak), k.Threads, rd.f.Goroutines, mbText(int64(rd.f.HeapInuse)))
	}
	for _, rd := range readings {
		g := rd.f.Monitors
		p("  %-26s %7s %7s   (%s: %s kB RSS, %s kB PSS each)", rd.label[:4]+"monitors", mbText(g.RSS), pssText(g.PSS, g.HasPSS),
			plural(g.Count, "process", "processes"), perEach(g.RSS, g.Count), perEachPSS(g))
	}
	g := r.WithPods.Containers
	p("  %-26s %7s %7s   (%s: the workload's own)", "(b) containers", mbText(g.RSS), pssText(g.PSS, g.HasPSS), plural(g.Count, "process", "processes"))
	var exe []string
	for _, rd := range readings {
		if rd.f.Kubelet.HasExe {
			exe = append(exe, fmt.Sprintf("%s MB at %s", mbText(rd.f.Kubelet.Exe), rd.label[:3]))
		}
	}
	if len(exe) > 0 {
		p("  of the kubelet's RSS, its own executable's mapped pages (clean, reclaimable, shared with the page cache)")
		p("  are %s; shepherd-kubelet is %s MB on disk", strings.Join(exe, ", "), mbText(r.Setup.KubeletSize))
	}
	if w := r.WithPods; w.Kubelet.HasPSS && w.Monitors.HasPSS {
		p("  the node agent with %d pods, kubelet + monitors by PSS: %s MB at (b), %s MB at (c); the apiserver, for",
			w.Pods, mbText(w.Kubelet.PSS+w.Monitors.PSS), mbText(r.Restarted.Kubelet.PSS+r.Restarted.Monitors.PSS))
		p("  scale: %s MB RSS", mbText(w.APIServer.RSS))
	}
	rs := r.Restart
	p("  restart: the old kubelet %s; the new one answered /healthz with the Node Ready after %.2fs;", rs.Stopped, rs.Ready.Seconds())
	p("  %d pod watch events until reading (c), %d of them showing a container replaced or not running", rs.Events, rs.Replaced)
	for _, rd := range readings {
		f := rd.f
		what := fmt.Sprintf("over %v after the settle", f.Window)
		if f.WindowIsSettle {
			what = fmt.Sprintf("over the %v settle", f.Settle)
		}
		p("CPU %s %s: kubelet %.2fs (%.2f%% of a core), monitors %.2fs, apiserver %.2fs;",
			rd.label[:3], what, f.KubeletCPU.Seconds(), pct(f.KubeletCPU, f.Window), f.MonitorCPU.Seconds(), f.APIServerCPU.Seconds())
		p("           %d pod watch events in it; kubelet_running_pods %.0f", f.Events, f.RunningPods)
		if f.MetricsError != "" {
			p("           kubelet /metrics: %s", f.MetricsError)
		}
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func pssText(b int64, ok bool) string {
	if !ok {
		return "-"
	}
	return mbText(b)
}

func perEach(total int64, n int) string {
	if n == 0 {
		return "-"
	}
	return kbText(total / int64(n))
}

func perEachPSS(g procGroup) string {
	if !g.HasPSS {
		return "-"
	}
	return perEach(g.PSS, g.Count)
}

func pct(cpu, wall time.Duration) float64 {
	if wall <= 0 {
		return 0
	}
	return 100 * cpu.Seconds() / wall.Seconds()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// short abbreviates a sha256 digest.
func short(id string) string {
	if s, ok := strings.CutPrefix(id, "sha256:"); ok && len(s) > 12 {
		return "sha256:" + s[:12]
	}
	return id
}
