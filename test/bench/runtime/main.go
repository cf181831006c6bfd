// Command runtime benchmarks Shepherd's container runtime against runc and
// crun (Debian's packages) and bare unshare: the start-to-exit latency of
// /bin/true in a new container, on the same busybox root filesystem, all
// in one run, interleaved round robin so that machine noise hits every tool
// alike. It reports the median, p90, p99 and mean of each, the ratios of
// the medians, and Shepherd's median against its targets: at or below
// crun's, and at most half of runc's.
//
// Shepherd's runtime is timed in this process around Runtime.Run and
// Runtime.Wait, with the shepherd-shim binary as its monitor and init and
// a cgroup per container, as the kubelet runs it. runc and crun run in
// the foreground (`run --bundle`) in a long-lived helper, this program
// re-executed in a private mount namespace where a hybrid host's cgroup2
// mount is unmounted (crun 1.8 refuses hybrid hosts); the helper times each
// command itself. See runner.go.
//
// A missing runc, crun or unshare skips its rows and says so. The command
// exits 0 whether or not the targets are met, because a benchmark reports
// and does not gate; it exits 1 when it could not measure Shepherd's
// runtime at all. It must run as root.
//
// Usage:
//
//	go run ./test/bench/runtime [-quick] [flags]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shepherd-lab/shepherd/test/bench/internal/benchutil"
)

// config is what one run measures.
type config struct {
	N      int // measured iterations per row
	Warmup int // discarded iterations per row, before the measured ones
	// TempDir is where the run's directory is made; os.TempDir() when
	// empty. The image store, and so every container's root, is in it.
	TempDir string
	// ShimBinary is a prebuilt shepherd-shim; when empty it is built from
	// this module's cmd/shepherd-shim.
	ShimBinary string
}

func defaultConfig() config { return config{N: 200, Warmup: 20} }

// quickConfig is a smoke run.
func quickConfig() config { return config{N: 20, Warmup: 3} }

func defineFlags(fs *flag.FlagSet, cfg *config) {
	fs.IntVar(&cfg.N, "n", cfg.N, "measured iterations per row")
	fs.IntVar(&cfg.Warmup, "warmup", cfg.Warmup, "warm-up iterations per row, discarded")
	fs.StringVar(&cfg.TempDir, "tmpdir", cfg.TempDir, "parent `dir` of the run's directory: image store, container state, bundle (default $TMPDIR)")
	fs.StringVar(&cfg.ShimBinary, "shim-binary", cfg.ShimBinary, "use this shepherd-shim `binary` instead of building ./cmd/shepherd-shim")
}

func checkFlags(fs *flag.FlagSet, cfg config) error {
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	case cfg.N <= 0 || cfg.Warmup < 0:
		return errors.New("-n must be positive, -warmup at least 0")
	}
	return nil
}

func parseFlags(args []string) (config, error) {
	return benchutil.ParseFlags(args, "runtime-bench", defaultConfig(), quickConfig(), defineFlags, checkFlags)
}

func main() {
	runnerMain() // returns unless this process is the runner
	benchutil.Main("runtime", parseFlags, run)
}

// run sets every tool up, measures, cleans up, prints the report to out
// and returns the figures. Cleanup happens whatever fails; what it could
// not undo is in the report (or, after an error, printed on its own).
func run(ctx context.Context, cfg config, out io.Writer) (res *results, err error) {
	f, err := newFixture(cfg.TempDir)
	if err != nil {
		return nil, err
	}
	defer func() {
		if rep := f.close(); rep != nil && rep.dirty() {
			r := &results{Cleanup: rep}
			r.printCleanup(func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) })
		}
	}()
	res = &results{Config: cfg, Machine: benchutil.MachineFacts(f.dir), Kernel: kernel(), HostCgroups: f.hostLayout}
	if err := f.setup(ctx, cfg); err != nil {
		return nil, err
	}
	res.Tools = f.tools()
	start := time.Now()
	if err := measure(ctx, res.Tools, f.prefix, cfg.Warmup, cfg.N); err != nil {
		return nil, err
	}
	res.Took = time.Since(start)
	res.Machine.LoadAfter = benchutil.LoadAverage()

	res.ShimPath, res.ShimBuild = f.shim, f.shimBuild
	res.ImageID, res.Layer, res.LayerFS, res.Busybox = f.imageID, f.layer, f.layerFS, busyboxVersion()
	if f.cg != nil && f.cg.Available() {
		res.CgroupRoot, res.CgroupCtl = f.cg.RootPath(), f.cg.Controllers()
	} else {
		res.CgroupNote = f.cgNote
	}
	if f.runner != nil {
		res.Unmounted = f.runner.Unmounted
	}
	res.ToolPaths, res.Versions = f.bins, f.versions
	res.Cleanup = f.close()
	res.print(out)
	if len(res.row(shepherdRow).headline()) == 0 {
		return res, errNoShepherd
	}
	return res, nil
}

func kernel() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}
