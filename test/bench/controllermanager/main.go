// Command controllermanager benchmarks shepherd-controller-manager the way
// Kubernetes' kubemark does its controllers: against hollow nodes, whose
// pods are Running and Ready as soon as they are bound, so that the
// figures are the control plane's and no container runtime's.
//
// It builds the four binaries into a temporary directory and starts each
// as its own process: shepherd-apiserver (embedded etcd, data in that
// directory), one shepherd-kubelet running -nodes hollow nodes,
// shepherd-scheduler and shepherd-controller-manager (every controller,
// leader election on). Once every node is Ready and both the scheduler
// and the controller-manager lead (their /metrics show
// leader_election_master_status 1), it opens watches on the pods, the
// Deployments and the ReplicaSets through the apiserver with client-go
// (no client rate limit) and times three steps:
//
//  1. Create: a Deployment of -replicas busybox pods, its strategy left to
//     the apiserver's defaults (RollingUpdate, maxSurge and maxUnavailable
//     25%). Timed to every pod Running as the pod watch shows it, and to
//     the Deployment's status showing them available with
//     observedGeneration current; with each pod's latency from the watch's
//     first sight of it to Running.
//  2. Rolling update: the template gets an env var (a strategic merge
//     patch, as `kubectl set env` sends). Timed to the status showing
//     updated = available = replicas, every new pod Running and no old pod
//     left. The pod watch delivers every change in etcd's order, so the
//     counts it keeps are etcd's at each revision: the most pods that
//     existed at once and the fewest available are exact, and are checked
//     against replicas + maxSurge and replicas - maxUnavailable.
//  3. Delete: the Deployment, with background propagation as kubectl
//     does; timed until the garbage collector has removed its ReplicaSets
//     and their pods.
//
// For each step it reports the CPU time the controller-manager, the
// scheduler, the apiserver (with etcd), the hollow kubelet and this
// process used (/proc/<pid>/stat), and the controller-manager's
// workqueues: the adds and retries per queue (workqueue_adds_total,
// workqueue_retries_total) and the deepest each got (workqueue_depth,
// sampled every -sample-interval); at the end every process's peak
// resident set (VmHWM).
//
// The issue sets no numeric target; the report sets the per-pod startup
// latency beside Kubernetes' pod startup SLO for scale. The command exits
// 0 whether or not that is met, because a benchmark reports and does not
// gate. It exits 1 when it could not measure (setup failed, a component
// died, a step stalled) or when the controllers broke a rule the figures
// rest on (a rolling update past its surge or under its availability, a
// wrong final state); the report says which, with the evidence.
// Everything is removed at the end, also after a failure or an interrupt.
//
// Usage:
//
//	go run ./test/bench/controllermanager [-quick] [flags]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/shepherd-lab/shepherd/test/bench/internal/benchutil"
)

// config is what one run measures.
type config struct {
	Nodes    int // hollow nodes, all in one kubelet process
	Replicas int // the Deployment's
	// StallTimeout ends a step in which no watch delivered an event for
	// this long; PhaseTimeout one that took this long in all.
	StallTimeout, PhaseTimeout time.Duration
	// SampleInterval is how often the controller-manager's workqueue
	// depths are scraped.
	SampleInterval time.Duration
	// TempDir is where the run's directory is made; os.TempDir() when
	// empty. etcd's data, the binaries and the logs are in it.
	TempDir string
	// BinDir holds the four binaries prebuilt; when empty they are built
	// from this module.
	BinDir string
}

func defaultConfig() config {
	return config{Nodes: 100, Replicas: 1000, StallTimeout: 60 * time.Second, PhaseTimeout: 10 * time.Minute, SampleInterval: 100 * time.Millisecond}
}

// quickConfig is a smoke run: every step, small numbers.
func quickConfig() config {
	return config{Nodes: 10, Replicas: 100, StallTimeout: 30 * time.Second, PhaseTimeout: 3 * time.Minute, SampleInterval: 100 * time.Millisecond}
}

func defineFlags(fs *flag.FlagSet, cfg *config) {
	fs.IntVar(&cfg.Nodes, "nodes", cfg.Nodes, "hollow nodes (one shepherd-kubelet process runs them all)")
	fs.IntVar(&cfg.Replicas, "replicas", cfg.Replicas, "the Deployment's replicas")
	fs.DurationVar(&cfg.StallTimeout, "stall-timeout", cfg.StallTimeout, "give up on a step when no watch event arrived for this long")
	fs.DurationVar(&cfg.PhaseTimeout, "phase-timeout", cfg.PhaseTimeout, "give up on a step after this long")
	fs.DurationVar(&cfg.SampleInterval, "sample-interval", cfg.SampleInterval, "how often the controller-manager's workqueue depths are scraped")
	fs.StringVar(&cfg.TempDir, "tmpdir", cfg.TempDir, "parent `dir` of the run's directory: binaries, etcd's data, logs (default $TMPDIR)")
	fs.StringVar(&cfg.BinDir, "bin-dir", cfg.BinDir, "`dir` with prebuilt "+fmt.Sprint(binaries)+" (default: build them)")
}

func checkFlags(fs *flag.FlagSet, cfg config) error {
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	case cfg.Nodes <= 0 || cfg.Replicas <= 0:
		return errors.New("-nodes and -replicas must be positive")
	case cfg.StallTimeout <= 0 || cfg.PhaseTimeout <= 0 || cfg.SampleInterval <= 0:
		return errors.New("-stall-timeout, -phase-timeout and -sample-interval must be positive")
	case cfg.Replicas+(cfg.Replicas+3)/4 > cfg.Nodes*nodePods:
		return fmt.Errorf("%d replicas and a 25%% surge do not fit on %d nodes of %d pods", cfg.Replicas, cfg.Nodes, nodePods)
	}
	return nil
}

func parseFlags(args []string) (config, error) {
	return benchutil.ParseFlags(args, "controllermanager-bench", defaultConfig(), quickConfig(), defineFlags, checkFlags)
}

func main() {
	benchutil.Main("controllermanager", parseFlags, run)
}

// run sets the cluster up, measures, cleans up, prints the report to out
// and returns the figures. Cleanup happens whatever fails. A run that
// measured but found a step incomplete or a rule broken prints its report
// and returns both the figures and an error.
func run(ctx context.Context, cfg config, out io.Writer) (res *results, err error) {
	c, err := newCluster(cfg)
	if err != nil {
		return nil, err
	}
	defer func() {
		if rep := c.close(); rep != nil && (err != nil || rep.dirty()) {
			printCleanup(rep, func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) })
		}
	}()
	res = &results{Config: cfg, Machine: benchutil.MachineFacts(c.apiDataDir)}
	if err := c.setup(ctx, &res.Setup); err != nil {
		return nil, err
	}
	t, err := startTracker(ctx, c.client, namespace, depName, appLabel+"="+depName)
	if err != nil {
		return nil, err
	}
	defer t.stop()
	b := &bench{cfg: cfg, c: c, t: t, res: res}
	b.sampler = startDepthSampler(ctx, c.http, c.cmURL+"/metrics", cfg.SampleInterval)
	defer b.sampler.stop()
	b.scrapeCM(ctx)

	if err := b.measureCreate(ctx); err != nil {
		return nil, err
	}
	if res.Create.Done {
		if err := b.measureRollout(ctx); err != nil {
			return nil, err
		}
	}
	if res.Rollout.Done {
		if err := b.checkFinal(ctx); err != nil {
			return nil, err
		}
		if err := b.measureDelete(ctx); err != nil {
			return nil, err
		}
	}
	b.checkWindows()
	b.finish()
	res.Cleanup = c.close()
	res.print(out)
	return res, res.invalid()
}

// finish gathers what is read once, at the end, while the processes
// still run: the workqueue table, peak memory, the logs.
func (b *bench) finish() {
	depth, scrapes, errs, lastErr := b.sampler.stop()
	b.res.Sampler = samplerFigures{Scrapes: scrapes, Errors: errs, LastError: lastErr}
	b.res.Queues = queueTable(b.bounds, depth)
	if n := len(b.bounds); n > 0 && b.bounds[n-1] != nil {
		last := b.bounds[n-1]
		b.res.CMGoroutines, _ = last.value("go_goroutines")
		b.res.CMHeapInuse, _ = last.value("go_memstats_heap_inuse_bytes")
	}
	b.res.Reopened = b.t.reopenedCount()
	for _, p := range b.c.procs() {
		f := procFigures{Name: p.Name}
		f.Memory, _ = procMemory(p.Pid())
		f.CPUTotal, _ = procCPU(p.Pid())
		f.Log = p.LogSummary()
		b.res.Procs = append(b.res.Procs, f)
	}
	b.res.Machine.LoadAfter = benchutil.LoadAverage()
}
