// Command kubelet benchmarks shepherd-kubelet on one node with a warm
// image: how long a pod takes from its create through the apiserver to
// Running, as a watch sees it, and how much memory and CPU an idle kubelet
// uses with no pods and with a few dozen.
//
// It builds shepherd-apiserver, shepherd-kubelet and shepherd-shim into a
// temporary directory, starts the apiserver (embedded etcd, data in that
// directory) and one kubelet as separate processes, imports the busybox
// image into the kubelet's image store, and waits for the Node to be
// Ready. Pods are created with spec.nodeName set, so the scheduler is not
// part of any figure; each runs `sleep 3600` from image "busybox" with
// imagePullPolicy IfNotPresent.
//
//  1. Startup latency: with a watch on the pods open, -pods pods are
//     created by -creators goroutines paced at -qps, and each pod's latency
//     is from its create being acknowledged to the first watch event with
//     phase Running and every container running (p50, p90, p99, max). The
//     kubelet's kubelet_pod_start_sli_duration_seconds histogram is scraped
//     as a cross-check.
//  2. Memory: the kubelet process's RSS and PSS when idle with no pods
//     (before step 1) and with -memory-pods running (after deleting down to
//     them), and its CPU over -cpu-window of that idle; then once more
//     after restarting the kubelet, which adopts the running pods, so the
//     figure is free of step 1's garbage and high-water marks. The
//     runtime's per-container monitor processes are reported beside the
//     kubelet, not in it.
//
// Everything is removed at the end, also after a failure or an interrupt:
// the pods, the processes, containers left in the runtime, mounts and the
// run's cgroup. The report sets each figure beside its target; the command
// exits 0 whether or not targets are met, because a benchmark reports and
// does not gate. It exits 1 when it could not measure: setup failed, the
// kubelet died, or a pod never reached Running. It must run as root.
//
// Usage:
//
//	go run ./test/bench/kubelet [-quick] [flags]
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
	Pods int // pods created for the startup latency
	// MemoryPods run while the idle kubelet's memory is measured the
	// second time.
	MemoryPods int
	// Creators create the pods concurrently, together at most QPS pods a
	// second (0: as fast as they go).
	Creators int
	QPS      float64
	// SettleEmpty and SettlePods are how long the kubelet is left alone
	// before its memory is read, with no pods and with MemoryPods.
	SettleEmpty, SettlePods time.Duration
	// CPUWindow is how long the kubelet's CPU use is watched, idle with
	// MemoryPods.
	CPUWindow time.Duration
	// StallTimeout ends a wait (pods Running, pods gone) in which nothing
	// progressed for this long.
	StallTimeout time.Duration
	// TempDir is where the run's directory is made; os.TempDir() when
	// empty. etcd's data, the binaries and the kubelet's root are in it.
	TempDir string
	// BinDir holds prebuilt shepherd-apiserver, shepherd-kubelet and
	// shepherd-shim; when empty they are built from this module.
	BinDir string
	// ImageTar is the busybox image archive; when empty,
	// _output/images/busybox.tar if it exists, else one is written into
	// the run's directory as `make test-image` would.
	ImageTar string
}

func defaultConfig() config {
	return config{
		Pods: 100, MemoryPods: 30, Creators: 10, QPS: 20,
		SettleEmpty: 10 * time.Second, SettlePods: 15 * time.Second, CPUWindow: 20 * time.Second,
		StallTimeout: 60 * time.Second,
	}
}

// quickConfig is a smoke run: every step, small numbers.
func quickConfig() config {
	return config{
		Pods: 10, MemoryPods: 5, Creators: 5, QPS: 20,
		SettleEmpty: 2 * time.Second, SettlePods: 3 * time.Second, CPUWindow: 3 * time.Second,
		StallTimeout: 60 * time.Second,
	}
}

func defineFlags(fs *flag.FlagSet, cfg *config) {
	fs.IntVar(&cfg.Pods, "pods", cfg.Pods, "pods created for the startup latency")
	fs.IntVar(&cfg.MemoryPods, "memory-pods", cfg.MemoryPods, "pods running while the idle kubelet's memory and CPU are measured")
	fs.IntVar(&cfg.Creators, "creators", cfg.Creators, "goroutines creating pods")
	fs.Float64Var(&cfg.QPS, "qps", cfg.QPS, "pod creates per second, all creators together (0: unpaced)")
	fs.DurationVar(&cfg.SettleEmpty, "settle-empty", cfg.SettleEmpty, "idle time before reading the kubelet's memory with no pods")
	fs.DurationVar(&cfg.SettlePods, "settle-pods", cfg.SettlePods, "idle time before reading the kubelet's memory with -memory-pods pods")
	fs.DurationVar(&cfg.CPUWindow, "cpu-window", cfg.CPUWindow, "how long the idle kubelet's CPU use is measured, with -memory-pods pods")
	fs.DurationVar(&cfg.StallTimeout, "stall-timeout", cfg.StallTimeout, "give up waiting for pods when none progressed for this long")
	fs.StringVar(&cfg.TempDir, "tmpdir", cfg.TempDir, "parent `dir` of the run's directory: binaries, etcd's data, the kubelet's root (default $TMPDIR)")
	fs.StringVar(&cfg.BinDir, "bin-dir", cfg.BinDir, "`dir` with prebuilt shepherd-apiserver, shepherd-kubelet and shepherd-shim (default: build them)")
	fs.StringVar(&cfg.ImageTar, "image-tar", cfg.ImageTar, "busybox image `archive` (default _output/images/busybox.tar, else one is built)")
}

func checkFlags(fs *flag.FlagSet, cfg config) error {
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	case cfg.Pods <= 0 || cfg.Creators <= 0 || cfg.MemoryPods < 0:
		return errors.New("-pods and -creators must be positive, -memory-pods at least 0")
	case cfg.QPS < 0:
		return errors.New("-qps must not be negative")
	case cfg.SettleEmpty < 0 || cfg.SettlePods < 0 || cfg.CPUWindow <= 0 || cfg.StallTimeout <= 0:
		return errors.New("-settle-empty and -settle-pods must not be negative, -cpu-window and -stall-timeout must be positive")
	case cfg.Pods > maxPods || cfg.MemoryPods > maxPods:
		return fmt.Errorf("-pods and -memory-pods must be at most %d, the node's pod capacity", maxPods)
	}
	return nil
}

func parseFlags(args []string) (config, error) {
	return benchutil.ParseFlags(args, "kubelet-bench", defaultConfig(), quickConfig(), defineFlags, checkFlags)
}

func main() {
	benchutil.Main("kubelet", parseFlags, run)
}

// run sets the node up, measures, cleans up, prints the report to out and
// returns the figures. Cleanup happens whatever fails; after an error,
// what it found is printed on its own when it is not clean. A run in which
// some pod never reached Running prints its report and returns both the
// figures and an error.
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
	res = &results{Config: cfg, Machine: benchutil.MachineFacts(c.apiDataDir), Kernel: kernel()}
	if err := c.setup(ctx, res); err != nil {
		return nil, err
	}
	t, err := startTracker(ctx, c)
	if err != nil {
		return nil, err
	}
	defer t.stop()

	if res.Empty, err = c.idle(ctx, t, cfg.SettleEmpty, 0); err != nil {
		return nil, err
	}
	if err := c.measureStartup(ctx, t, res); err != nil {
		return nil, err
	}
	if !res.Startup.complete() {
		// The figures are of the pods that made it; the rest is the
		// report's to show. No point going on.
		res.KubeletLog = c.kubelet.LogSummary()
		res.Machine.LoadAfter = benchutil.LoadAverage()
		t.stop()
		res.Cleanup = c.close()
		res.print(out)
		return res, fmt.Errorf("%d of %d pods never reached Running", res.Startup.Pods-res.Startup.Running, res.Startup.Pods)
	}
	if err := c.scaleTo(ctx, t, res); err != nil {
		return nil, err
	}
	if res.WithPods, err = c.idle(ctx, t, cfg.SettlePods, cfg.CPUWindow); err != nil {
		return nil, err
	}
	if err := c.restartKubelet(ctx, t, res); err != nil {
		return nil, err
	}
	res.KubeletLog = c.kubelet.LogSummary()
	res.Machine.LoadAfter = benchutil.LoadAverage()
	t.stop()
	res.Cleanup = c.close()
	res.print(out)
	return res, nil
}
