package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shepherd-lab/shepherd/runtime/container"
	"github.com/shepherd-lab/shepherd/test/bench/internal/benchutil"
)

// Row names, also the keys of fixture.skipped.
const (
	shepherdRow = "shepherd"
	phasesRow   = "shepherd by phase"
	noCgroupRow = "shepherd, no cgroup"
	noSpareRow  = "shepherd, no spare monitor"
	runcRow     = "runc"
	crunRow     = "crun"
	unshare5    = "unshare, 5 namespaces"
	unshare6    = "unshare, 6 namespaces"
	execRow     = "exec /bin/true"
	shimRow     = "exec shepherd-shim"
	emptyGoRow  = "exec empty Go program"
)

// maxFailStreak drops a tool whose first attempts all fail: it is broken
// here, and every further attempt would only repeat its error.
const maxFailStreak = 3

// tool is one row of the report (several for a tool with several series):
// what one iteration does, and what the iterations measured.
type tool struct {
	Name string
	// Command says what one iteration runs.
	Command string
	// Series name the durations one iteration yields; the first is the
	// tool's headline figure.
	Series []string
	// Skipped says why the tool was not measured (or stopped being).
	Skipped string

	Lat                []benchutil.Latencies // by series, warm-up excluded
	Attempts, Failures int                   // warm-up included
	Errors             []string              // the first few failures

	once func(ctx context.Context, id string) ([]time.Duration, error)
}

// headline is the tool's first series; nil when it measured nothing.
func (t *tool) headline() benchutil.Latencies {
	if t == nil || len(t.Lat) == 0 {
		return nil
	}
	return t.Lat[0]
}

// tools lists every row, in the order of the report. Each iteration of the
// round robin gives every tool one turn.
func (f *fixture) tools() []*tool {
	rt, layer := f.rt, f.layer
	spec := func(id string) *container.Spec {
		return &container.Spec{ID: id, Lower: []string{layer}, Process: container.Process{Args: []string{"/bin/true"}}}
	}
	// phases runs a container calling Create, Start, Wait and Delete one
	// by one, and times each.
	phases := func(rt *container.Runtime) func(ctx context.Context, id string) ([]time.Duration, error) {
		return func(ctx context.Context, id string) ([]time.Duration, error) {
			t0 := time.Now()
			if _, err := rt.Create(ctx, spec(id)); err != nil {
				return nil, err
			}
			t1 := time.Now()
			if err := rt.Start(ctx, id); err != nil {
				rt.Delete(ctx, id, true)
				return nil, err
			}
			t2 := time.Now()
			ex, err := rt.Wait(ctx, id)
			t3 := time.Now()
			if err != nil {
				rt.Delete(ctx, id, true)
				return nil, err
			}
			if err := rt.Delete(ctx, id, false); err != nil {
				return nil, err
			}
			return []time.Duration{t1.Sub(t0), t2.Sub(t1), t3.Sub(t2), time.Since(t3)}, exitError(ex)
		}
	}
	// runWait times Run + Wait, then Run + Wait + Delete.
	runWait := func(rt *container.Runtime) func(ctx context.Context, id string) ([]time.Duration, error) {
		return func(ctx context.Context, id string) ([]time.Duration, error) {
			start := time.Now()
			_, err := rt.Run(ctx, spec(id))
			if err != nil {
				rt.Delete(ctx, id, true)
				return nil, err
			}
			ex, err := rt.Wait(ctx, id)
			exited := time.Since(start)
			if err != nil {
				rt.Delete(ctx, id, true)
				return nil, err
			}
			if err := rt.Delete(ctx, id, false); err != nil {
				return nil, err
			}
			return []time.Duration{exited, time.Since(start)}, exitError(ex)
		}
	}
	ts := []*tool{
		{
			Name:    shepherdRow,
			Command: "Runtime.Run + Wait (Delete untimed); then with Delete",
			Series:  []string{"Run+Wait", "Run+Wait+Delete"},
			once:    runWait(rt),
		},
		{
			Name:    noSpareRow,
			Command: "the same, by a Runtime that starts each container's monitor when asked",
			Series:  []string{"Run+Wait", "Run+Wait+Delete"},
			once:    runWait(f.rtNoSpare),
		},
		{
			Name:    phasesRow,
			Command: "Create; Start (returns after execve); Wait; Delete",
			Series:  []string{"Create", "Start", "Wait", "Delete"},
			once:    phases(rt),
		},
		{
			Name:    noCgroupRow,
			Command: "the same, by a Runtime without a cgroup manager",
			Series:  []string{"Create", "Start", "Wait", "Delete"},
			once:    phases(f.rtNoCg),
		},
	}
	for _, name := range []string{runcRow, crunRow} {
		bin, state := f.bins[name], map[string]string{runcRow: f.runcState, crunRow: f.crunState}[name]
		ts = append(ts, &tool{
			Name:    name,
			Command: name + " --root <tmp>/" + name + "-state run --bundle <tmp>/bundle <id>  (in the runner)",
			Series:  []string{"run"},
			once: func(ctx context.Context, id string) ([]time.Duration, error) {
				res, err := f.runner.exec([]string{bin, "--root", state, "run", "--bundle", f.bundle, id})
				if err != nil {
					return nil, err
				}
				return []time.Duration{res.Took}, res.check(0)
			},
		})
	}
	execTool := func(name string, argv []string, want int) *tool {
		return &tool{
			Name: name, Command: fmt.Sprint(argv), Series: []string{"exec"},
			once: func(context.Context, string) ([]time.Duration, error) {
				res := timedExec(argv)
				return []time.Duration{res.Took}, res.check(want)
			},
		}
	}
	unshare := f.bins["unshare"]
	ts = append(ts,
		execTool(unshare5, unshareArgv(unshare, false), 0),
		execTool(unshare6, unshareArgv(unshare, true), 0),
		execTool(execRow, []string{"/bin/true"}, 0),
		// Without its stage variables the shim says it is not run by hand
		// and exits 2: its bare start, Go runtime and imports included.
		execTool(shimRow, []string{f.shim}, 2),
		execTool(emptyGoRow, []string{f.emptyGo}, 0),
	)
	for _, t := range ts {
		t.Skipped = f.skipped[t.Name]
		t.Lat = make([]benchutil.Latencies, len(t.Series))
	}
	return ts
}

func exitError(ex container.ExitStatus) error {
	if ex.ExitCode == 0 {
		return nil
	}
	return fmt.Errorf("/bin/true exited %d (signal %q): %s", ex.ExitCode, ex.Signal, ex.Reason)
}

// measure runs warmup+n rounds. Each round gives every tool one turn,
// starting one tool further along each round, so that machine noise and
// any after-effects of one tool on the next hit every tool alike. Warm-up
// rounds are discarded. A tool fails alone: its errors are kept and the
// others go on.
func measure(ctx context.Context, ts []*tool, prefix string, warmup, n int) error {
	for round := 0; round < warmup+n; round++ {
		for k := range ts {
			t := ts[(round+k)%len(ts)]
			if t.Skipped != "" {
				continue
			}
			id := fmt.Sprintf("%s-%s-%d", prefix, idPart(t.Name), round)
			ds, err := t.once(ctx, id)
			t.Attempts++
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				t.Failures++
				if len(t.Errors) < 3 {
					t.Errors = append(t.Errors, fmt.Sprintf("%s: %v", id, err))
				}
				if t.Failures == t.Attempts && t.Failures >= maxFailStreak {
					t.Skipped = fmt.Sprintf("its first %d attempts failed", t.Failures)
				}
				continue
			}
			if round < warmup {
				continue
			}
			for i, d := range ds {
				t.Lat[i] = append(t.Lat[i], d)
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// idPart turns a row name into a container ID part.
func idPart(name string) string {
	b := []byte(name)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			b[i] = '-'
		}
	}
	return string(b)
}

// errNoShepherd is the run's error when Shepherd's row measured nothing:
// the other figures are then nothing to compare against.
var errNoShepherd = errors.New("no container ran to completion in Shepherd's runtime")
