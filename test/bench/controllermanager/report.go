package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/shepherd-lab/shepherd/test/bench/internal/benchutil"
)

// sloPodStartup is Kubernetes' pod startup latency SLO (sig-scalability's
// pod_startup_latency.md): p99 of creation to every container started,
// as observed by a watch, at most 5 s. clusterloader2's load tests hold
// kubemark and real clusters to it, at 30 pods per node (3,000 pods on
// 100 nodes). A reference for scale, not this benchmark's target.
const sloPodStartup = 5 * time.Second

// results are one run's figures.
type results struct {
	Config  config
	Machine benchutil.Machine
	Setup   setupTimes
	// Strategy is the rolling update's, as the apiserver defaulted it;
	// Generation and RolloutGeneration the Deployment's after the create
	// and after the patch.
	Strategy                      strategy
	Generation, RolloutGeneration int64
	Create, Rollout, Delete       phase
	Final                         finalState
	Queues                        []queueFigures
	Sampler                       samplerFigures
	MetricsErrors                 []string
	CMGoroutines, CMHeapInuse     float64
	Procs                         []procFigures
	Reopened                      int // watches the server ended and the tracker reopened
	// DeleteFallback is the apiserver's refusal of client-go's typed
	// delete, when the Deployment was deleted with query parameters
	// instead.
	DeleteFallback string
	Violations     []string
	Cleanup        *cleanup
}

type samplerFigures struct {
	Scrapes, Errors int
	LastError       string
}

// procFigures are one process's totals at the end.
type procFigures struct {
	Name     string
	Memory   memory
	CPUTotal time.Duration // over its life, setup included
	Log      benchutil.LogSummary
}

// invalid says why the run does not stand, if it does not: a step did
// not finish, or the controllers broke a rule.
func (r *results) invalid() error {
	var why []string
	for _, p := range []*phase{&r.Create, &r.Rollout, &r.Delete} {
		if p.Name != "" && !p.Done { // a step not run followed one not done
			why = append(why, fmt.Sprintf("the %s step did not finish (%s)", p.Name, p.Why))
		}
	}
	if len(r.Violations) > 0 {
		why = append(why, fmt.Sprintf("%d correctness violations", len(r.Violations)))
	}
	if len(why) == 0 {
		return nil
	}
	return errors.New("the run is not valid: " + strings.Join(why, "; "))
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }
func ms(d time.Duration) string   { return fmt.Sprintf("%.0fms", float64(d)/float64(time.Millisecond)) }
func mib(n int64) string          { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// cores is CPU time over wall time.
func cores(cpu, wall time.Duration) float64 {
	if wall <= 0 {
		return 0
	}
	return cpu.Seconds() / wall.Seconds()
}

// print writes the report.
func (r *results) print(out io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	m, c, s := r.Machine, r.Config, r.Strategy
	p("Shepherd controller-manager benchmark: a Deployment of %d replicas on %d hollow nodes, created, rolled, deleted", c.Replicas, c.Nodes)
	p("machine    %s/%s, %s, NumCPU %d, GOMAXPROCS %d, %s", m.OS, m.Arch, m.CPUModel, m.NumCPU, m.GOMAXPROCS, m.GoVersion)
	p("load       average %s at start, %s at end (other work on the machine skews every figure)", m.LoadBefore, m.LoadAfter)
	p("cluster    four processes sharing the CPUs with this one: shepherd-apiserver (embedded etcd, fsync on, data on %s),", m.DataDirFS)
	p("           shepherd-scheduler, shepherd-controller-manager (every controller, leader-elected), and one")
	p("           shepherd-kubelet --runtime hollow --hollow-nodes %d (pods Running and Ready once bound; no containers)", c.Nodes)
	p("client     client-go, no rate limit: watches on pods, Deployments and ReplicaSets opened before the create")
	defaulted := "as the apiserver defaulted it"
	if !s.Defaulted {
		defaulted = "NOT defaulted by the apiserver: Kubernetes' defaults assumed for the checks"
	}
	p("deployment %d replicas, image %s; strategy %s, maxSurge %s = %d pods, maxUnavailable %s = %d pods (%s)",
		c.Replicas, podImage, orText(s.Type, "(none)"), s.MaxSurge, s.Surge, s.MaxUnavailable, s.Unavailable, defaulted)
	p("")
	st := r.Setup
	build := "given (" + st.BinSource + ")"
	if st.Build > 0 {
		build = "built in " + secs(st.Build)
	}
	p("SETUP      binaries %s; apiserver ready %s; %d hollow nodes Ready %s after the kubelet started (%d nodes listed);",
		build, secs(st.APIReady), c.Nodes, secs(st.NodesReady), st.NodesListed)
	p("           scheduler leading %s, controller-manager leading %s after each started", secs(st.SchedLeads), secs(st.CMLeads))
	p("")

	r.printPhase(p, 1, "CREATE the Deployment", &r.Create, false)
	r.printPhase(p, 2, "ROLLING UPDATE (template env var added, strategic merge patch)", &r.Rollout, true)
	r.printPhase(p, 3, "DELETE the Deployment (background propagation: the garbage collector removes its ReplicaSets and pods)", &r.Delete, false)
	if r.DeleteFallback != "" {
		p("   NOTE: the apiserver refused client-go's typed Deployments().Delete (its DeleteOptions body says apiVersion apps/v1,")
		p("   which Kubernetes accepts): %q;", r.DeleteFallback)
		p("   the delete was sent again as DELETE ...?propagationPolicy=Background with no body")
		p("")
	}

	p("4. PROCESSES   CPU time per step (cores = CPU / the step's wall time), then peak and final memory")
	steps := []*phase{&r.Create, &r.Rollout, &r.Delete}
	header := fmt.Sprintf("   %-20s", "")
	for _, ph := range steps {
		if ph.Name != "" {
			header += fmt.Sprintf(" %-24s", ph.Name)
		}
	}
	p("%s %-12s %s", header, "life", "peak RSS (VmHWM) / RSS at end")
	for _, f := range r.Procs {
		line := fmt.Sprintf("   %-20s", f.Name)
		for _, ph := range steps {
			if ph.Name != "" {
				cpu := ph.CPU[f.Name]
				line += fmt.Sprintf(" %-24s", fmt.Sprintf("%s (%.2f cores)", secs(cpu), cores(cpu, ph.Wall)))
			}
		}
		p("%s %-12s %s / %s", line, secs(f.CPUTotal), mib(f.Memory.Peak), mib(f.Memory.RSS))
	}
	line := fmt.Sprintf("   %-20s", "this process")
	for _, ph := range steps {
		if ph.Name != "" {
			line += fmt.Sprintf(" %-24s", fmt.Sprintf("%s (%.2f cores)", secs(ph.Self), cores(ph.Self, ph.Wall)))
		}
	}
	p("%s (the client and its watches)", line)
	if r.CMHeapInuse > 0 {
		p("   controller-manager at the end: Go heap in use %s, %d goroutines", mib(int64(r.CMHeapInuse)), int64(r.CMGoroutines))
	}
	if r.Create.RSS != nil {
		var parts []string
		for _, ph := range steps {
			if ph.Name != "" {
				parts = append(parts, fmt.Sprintf("%s after %s", mib(ph.RSS["controller-manager"]), ph.Name))
			}
		}
		p("   controller-manager RSS: %s", strings.Join(parts, ", "))
	}
	p("")

	p("5. CONTROLLER-MANAGER WORKQUEUES   adds (retries) per step; deepest seen (workqueue_depth, %d scrapes, every %s); mean wait / work over the run",
		r.Sampler.Scrapes, c.SampleInterval)
	if len(r.Queues) == 0 {
		p("   no workqueue metrics on /metrics")
	} else {
		header := fmt.Sprintf("   %-18s", "queue")
		for _, ph := range steps {
			if ph.Name != "" {
				header += fmt.Sprintf(" %-16s", ph.Name)
			}
		}
		p("%s %s", header, "deepest, mean wait and work")
	}
	for _, q := range r.Queues {
		line := fmt.Sprintf("   %-18s", q.Name)
		for i, a := range q.Adds {
			line += fmt.Sprintf(" %-16s", fmt.Sprintf("%.0f (%.0f)", a, q.Retries[i]))
		}
		p("%s depth %-6.0f wait %s, work %s", line, q.MaxDepth, ms(q.QueueMean), ms(q.WorkMean))
	}
	if r.Sampler.Errors > 0 {
		p("   %d scrapes failed, the last: %s", r.Sampler.Errors, r.Sampler.LastError)
	}
	for _, e := range r.MetricsErrors {
		p("   scrape at a step's end failed: %s", e)
	}
	p("")

	f := r.Final
	if r.Rollout.Done {
		p("6. STATE AFTER THE ROLLING UPDATE (lists)")
		p("   pods %d: %d of the new template, %d Running and Ready, %d controlled by the new ReplicaSet; %d nodes used, at most %d pods on one",
			f.Pods, f.NewPods, f.RunningReady, f.OwnedByNewRS, f.NodesUsed, f.MostOnANode)
		for _, rs := range f.ReplicaSets {
			p("   replicaset %s", rs)
		}
		var ev []string
		for _, e := range f.Events {
			ev = append(ev, fmt.Sprintf("%s/%s %d", e.Kind, e.Reason, e.Count))
		}
		if f.EventsError != "" {
			ev = append(ev, "list failed: "+f.EventsError)
		}
		p("   events in %s, listed at once (the recorder writes in batches; some may still be queued): %s", namespace, orText(strings.Join(ev, ", "), "none"))
		p("")
	}

	p("CORRECTNESS")
	if len(r.Violations) == 0 {
		p("   no pod beyond the replicas while creating; the rolling update kept within its surge and availability;")
		p("   the final state is one ReplicaSet of %d new pods and the old one at 0: OK", c.Replicas)
	}
	for _, v := range r.Violations {
		p("   !!! %s", v)
	}
	if r.Reopened > 0 {
		p("   (the server ended a watch %d times; each was reopened from its last resourceVersion)", r.Reopened)
	}
	p("")

	p("logs")
	for _, pf := range r.Procs {
		p("   %s: %d lines, %d distinct warnings/errors", pf.Name, pf.Log.Lines, len(pf.Log.Warnings))
		for i, w := range pf.Log.Warnings {
			if i == 8 {
				p("      ... and %d more", len(pf.Log.Warnings)-i)
				break
			}
			p("      %6d x %s", w.Count, w.Message)
			p("               e.g. %s", truncate(w.Example, 300))
		}
	}
	if r.Cleanup != nil {
		printCleanup(r.Cleanup, p)
	}
	p("")
	if err := r.invalid(); err != nil {
		p("!!! %v", err)
	}
	p("targets: the issue states none; the figures above are the result. For scale: Kubernetes' pod startup SLO")
	if r.Create.Startup != nil && len(r.Create.Startup.Latency) > 0 {
		p99 := r.Create.Startup.Latency.Quantile(0.99)
		p("   (p99 <= %s; clusterloader2 checks it on kubemark at 3,000 pods on 100 nodes): this run's p99 %s  %s",
			secs(sloPodStartup), secs(p99), benchutil.PassMiss(p99 <= sloPodStartup))
	} else {
		p("   (p99 <= %s; clusterloader2 checks it on kubemark at 3,000 pods on 100 nodes): not measured", secs(sloPodStartup))
	}
}

// printPhase writes one step: its goals' times, its window, its pods'
// latencies.
func (r *results) printPhase(p func(string, ...any), num int, title string, ph *phase, rollout bool) {
	if ph.Name == "" {
		p("%d. %s: not run (an earlier step did not finish)", num, title)
		p("")
		return
	}
	p("%d. %s", num, title)
	p("   API call %s; then, from the call sent, as the watches showed it:", ms(ph.Call))
	for _, g := range ph.Goals {
		if g.Met {
			p("   %10s  %s", secs(g.After), g.Name)
		} else {
			p("   %10s  %s", "NEVER", g.Name)
		}
	}
	if ph.Done {
		p("   => %s in all", secs(ph.took()))
	} else {
		p("   !!! NOT FINISHED: %s", ph.Why)
		p("   !!! then: %s", ph.State)
	}
	w := ph.Window
	p("   pods: %d created, %d deleted; at most %d at once not being deleted (%d counting those being deleted), at least %d available",
		w.Created, w.Deleted, w.MaxLive, w.MaxPods, w.MinAvailable)
	if rollout {
		n, s := r.Config.Replicas, r.Strategy
		p("           limits: at most replicas + maxSurge = %d, at least replicas - maxUnavailable = %d:  %s, %s",
			n+s.Surge, n-s.Unavailable, okOver(w.MaxLive <= n+s.Surge), okOver(w.MinAvailable >= n-s.Unavailable))
		p("           most pods reached %s after the call: %v", secs(w.MaxLiveAt.After), w.MaxLiveAt.Counts)
		p("           fewest available reached %s after the call: %v", secs(w.MinAvailableAt.After), w.MinAvailableAt.Counts)
	} else if num == 1 {
		p("           limit: at most %d (the replicas): %s", r.Config.Replicas, okOver(w.MaxLive <= r.Config.Replicas))
	}
	p("   watch events: %d pod, %d Deployment, %d ReplicaSet", w.PodEvents, w.DeploymentEvents, w.RSEvents)
	if su := ph.Startup; su != nil {
		p("   per pod, %d pods: first seen -> Running  p50 %s  p90 %s  p99 %s  max %s",
			su.Pods, ms(su.Latency.Quantile(0.5)), ms(su.Latency.Quantile(0.9)), ms(su.Latency.Quantile(0.99)), ms(su.Latency.Quantile(1)))
		p("              first seen -> bound (scheduler) p50 %s  p99 %s;  bound -> Running (kubelet) p50 %s  p99 %s",
			ms(su.ToBound.Quantile(0.5)), ms(su.ToBound.Quantile(0.99)), ms(su.BoundToRunning.Quantile(0.5)), ms(su.BoundToRunning.Quantile(0.99)))
	}
	p("")
}

func okOver(ok bool) string {
	if ok {
		return "OK"
	}
	return "VIOLATED"
}

func orText(s, none string) string {
	if s == "" {
		return none
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// printCleanup writes what close did.
func printCleanup(r *cleanup, p func(string, ...any)) {
	p("cleanup")
	p("   %s", strings.Join(r.Stopped, "; "))
	if len(r.Killed) > 0 {
		p("   processes of the run's binaries still alive afterwards, killed: %v", r.Killed)
	}
	p("   run's directory removed: %v", r.Removed)
	for _, e := range r.Errors {
		p("   error: %s", e)
	}
}
