// Command scheduler benchmarks shepherd-scheduler in the manner of
// Kubernetes' scheduler_perf SchedulingBasic test (5000Nodes_10000Pods):
// against an embedded etcd (fsync on, as in production), it writes 5,000
// Ready nodes with live heartbeat leases and 1,000 already bound pods
// straight into storage (no kubelets), starts the real scheduler as a
// separate process, and once it leads creates 10,000 pending pods as fast
// as etcd takes them. It reports pods/s from the first create to the last
// binding, the per-pod latency from creation to binding, the scheduler
// process's peak memory and CPU, and checks the result: every pod bound
// exactly once and no node over capacity.
//
// The report sets throughput beside its target; the command exits 0
// whether or not the target is met, because a benchmark reports and does
// not gate. It exits 1 only when it could not measure: setup failed, the
// scheduler died or stopped binding, or the bindings are wrong (a pod bound
// twice, a node over capacity), which makes the figures meaningless.
//
// Usage:
//
//	go run ./test/bench/scheduler [-quick] [flags]
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
	Nodes  int // Ready nodes with a live lease
	Placed int // pods bound before the scheduler starts
	Pods   int // pending pods created while it runs: the measured ones
	// Creators create the measured pods concurrently, Batch pods per
	// CreateMany (one etcd transaction).
	Creators, Batch int
	// StallTimeout ends a run in which no pod was bound for this long.
	StallTimeout time.Duration
	// TempDir is where the run's directory (etcd's data, the scheduler
	// binary and its log) is made; os.TempDir() when empty. Its disk's fsync
	// latency bounds every write.
	TempDir string
	// SchedulerBinary is a prebuilt shepherd-scheduler to run; when empty
	// it is built from this module's cmd/shepherd-scheduler.
	SchedulerBinary string
}

func defaultConfig() config {
	return config{Nodes: 5000, Placed: 1000, Pods: 10000, Creators: 4, Batch: 100, StallTimeout: 60 * time.Second}
}

// quickConfig is a smoke run: every phase, small numbers.
func quickConfig() config {
	return config{Nodes: 200, Placed: 50, Pods: 500, Creators: 4, Batch: 100, StallTimeout: 30 * time.Second}
}

// defineFlags declares the command's flags, besides -quick, on cfg.
func defineFlags(fs *flag.FlagSet, cfg *config) {
	fs.IntVar(&cfg.Nodes, "nodes", cfg.Nodes, "Ready nodes, each with a live heartbeat lease")
	fs.IntVar(&cfg.Placed, "placed", cfg.Placed, "pods already bound (round-robin over the nodes) before the scheduler starts")
	fs.IntVar(&cfg.Pods, "pods", cfg.Pods, "pending pods created and scheduled: the measured ones")
	fs.IntVar(&cfg.Creators, "creators", cfg.Creators, "goroutines creating the measured pods")
	fs.IntVar(&cfg.Batch, "batch", cfg.Batch, "pods per CreateMany transaction (at most 100)")
	fs.DurationVar(&cfg.StallTimeout, "stall-timeout", cfg.StallTimeout, "give up when no pod has been bound for this long")
	fs.StringVar(&cfg.TempDir, "tmpdir", cfg.TempDir, "parent `dir` of the run's directory: etcd's data, the scheduler binary and log (default $TMPDIR)")
	fs.StringVar(&cfg.SchedulerBinary, "scheduler-binary", cfg.SchedulerBinary, "run this shepherd-scheduler `binary` instead of building ./cmd/shepherd-scheduler")
}

// checkFlags says what is wrong with a parsed command line, if anything.
func checkFlags(fs *flag.FlagSet, cfg config) error {
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	case cfg.Nodes <= 0 || cfg.Pods <= 0 || cfg.Placed < 0 || cfg.Creators <= 0:
		return errors.New("-nodes, -pods and -creators must be positive, -placed at least 0")
	case cfg.Batch <= 0 || cfg.Batch > maxBatch:
		return fmt.Errorf("-batch must be between 1 and %d (etcd allows 128 operations per transaction)", maxBatch)
	case cfg.StallTimeout <= 0:
		return errors.New("-stall-timeout must be positive")
	case cfg.Placed+cfg.Pods > cfg.Nodes*nodePods:
		return fmt.Errorf("%d pods do not fit on %d nodes of %d pods", cfg.Placed+cfg.Pods, cfg.Nodes, nodePods)
	}
	return nil
}

// parseFlags reads the command line; with -quick, the flags not given take
// their quick values.
func parseFlags(args []string) (config, error) {
	return benchutil.ParseFlags(args, "scheduler-bench", defaultConfig(), quickConfig(), defineFlags, checkFlags)
}

func main() {
	benchutil.Main("scheduler", parseFlags, run)
}

// run sets the cluster up, measures, prints the report to out and returns
// the figures. A run that measured but found the scheduler's work
// incomplete or wrong prints its report and returns both the figures and
// an error.
func run(ctx context.Context, cfg config, out io.Writer) (*results, error) {
	b, err := start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer b.stop()
	res := &results{Config: cfg, Machine: benchutil.MachineFacts(b.etcdDir)}
	if err := b.populate(ctx, res); err != nil {
		return nil, err
	}
	if err := b.startScheduler(ctx, res); err != nil {
		return nil, err
	}
	if err := b.measure(ctx, res); err != nil {
		return nil, err
	}
	if err := b.check(ctx, res); err != nil {
		return nil, err
	}
	b.stopScheduler(res)
	res.Machine.LoadAfter = benchutil.LoadAverage()
	res.print(out)
	return res, res.invalid()
}
