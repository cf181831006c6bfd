package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/shepherd-lab/shepherd/test/bench/internal/benchutil"
)

// Targets, from the issue: Shepherd's median at or below crun's, and well
// below runc's.
const (
	targetVsCrun = 1.0
	targetVsRunc = 0.5
)

// results are one run's figures, and the facts needed to read them.
type results struct {
	Config  config
	Machine benchutil.Machine
	Kernel  string

	ShimPath       string
	ShimBuild      time.Duration // 0: given by -shim-binary
	ImageID        string
	Layer, LayerFS string
	Busybox        string // busybox's own version line

	HostCgroups cgroupLayout
	CgroupRoot  string   // Shepherd's root cgroup; "" without one
	CgroupCtl   []string // controllers enabled in it
	CgroupNote  string   // why Shepherd's containers have no cgroup, if so
	Unmounted   []string // cgroup2 mounts the runner unmounted in its namespace
	ToolPaths   map[string]string
	Versions    map[string]string

	Tools   []*tool
	Took    time.Duration // the measurement's wall time
	Cleanup *cleanupReport
}

// row returns the named tool's results; nil when absent.
func (r *results) row(name string) *tool {
	for _, t := range r.Tools {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// median is the named tool's headline median; 0 when it measured nothing.
func (r *results) median(name string) time.Duration {
	return r.row(name).headline().Quantile(0.5)
}

// ratio is a/b, with ok false when either is missing.
func ratio(a, b time.Duration) (float64, bool) {
	if a <= 0 || b <= 0 {
		return 0, false
	}
	return float64(a) / float64(b), true
}

// target is one check of Shepherd's median against another's.
type target struct {
	Text   string
	Other  string // row compared against
	Factor float64
}

var targets = []target{
	{"shepherd median <= crun median", crunRow, targetVsCrun},
	{"shepherd median well below runc (<= 0.5x)", runcRow, targetVsRunc},
}

// met says whether Shepherd's median meets t; measured is false when
// either median is missing.
func (r *results) met(t target) (ok, measured bool) {
	q, measured := ratio(r.median(shepherdRow), r.median(t.Other))
	return measured && q <= t.Factor, measured
}

func ms64(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func msf(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

// print writes the report.
func (r *results) print(out io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	m, c := r.Machine, r.Config
	p("Shepherd container runtime benchmark: start-to-exit latency of /bin/true in a new container")
	p("machine    %s/%s, %s, NumCPU %d, GOMAXPROCS %d, %s, kernel %s", m.OS, m.Arch, m.CPUModel, m.NumCPU, m.GOMAXPROCS, m.GoVersion, r.Kernel)
	p("load       average %s at start, %s at end (other work on the machine skews every figure)", m.LoadBefore, m.LoadAfter)
	p("rootfs     the busybox image %s (from /bin/busybox, %s), imported into an image store;", short(r.ImageID), r.Busybox)
	p("           its one layer directory, on %s, is every container's root: %s", r.LayerFS, r.Layer)
	p("           shepherd: overlayfs lowerdir, upperdir in the container's directory (the mount is in its figure)")
	p("           runc, crun: that directory itself, read-only (root.readonly: true), no overlay")
	p("cgroups    host: %s", r.HostCgroups)
	switch {
	case r.CgroupRoot == "":
		p("           shepherd: no cgroups (%s)", r.CgroupNote)
	default:
		ctl := "no controller enabled: the host gives them to cgroup v1"
		if len(r.CgroupCtl) > 0 {
			ctl = "controllers " + strings.Join(r.CgroupCtl, ", ")
		}
		p("           shepherd: a cgroup2 leaf per container below %s (%s), entered by CLONE_INTO_CGROUP", r.CgroupRoot, ctl)
	}
	if len(r.Unmounted) > 0 {
		p("           runc, crun: in the runner, a private mount namespace where %s is unmounted (crun 1.8", strings.Join(r.Unmounted, ", "))
		p("           refuses hybrid hosts): a cgroup per v1 hierarchy, at the bundle's default cgroupsPath")
	} else {
		p("           runc, crun: in the runner, a private mount namespace (nothing unmounted: the host is not hybrid)")
	}
	for _, name := range []string{runcRow, crunRow} {
		if v := r.Versions[name]; v != "" {
			p("%-10s %s (%s)", name, v, r.ToolPaths[name])
		} else {
			p("%-10s not installed", name)
		}
	}
	p("bundle     `%s spec`, then process.args [\"/bin/true\"], terminal false, root read-only; namespaces pid, network,", bundleTool(r))
	p("           ipc, uts, mount and cgroup, as Shepherd's; its mounts, capabilities, masked paths as generated; no seccomp")
	if r.ShimBuild > 0 {
		p("shim       go build ./cmd/shepherd-shim took %.1fs", r.ShimBuild.Seconds())
	} else {
		p("shim       %s (-shim-binary)", r.ShimPath)
	}
	p("method     %d iterations per row after %d warm-up ones (discarded), round robin: each round gives every row one", c.N, c.Warmup)
	p("           turn, starting one row further along each round; %.1fs in all. Each figure is one wall-clock interval:", r.Took.Seconds())
	p("           shepherd's in this process around the runtime's calls (as the kubelet calls them, no CLI); runc's")
	p("           and crun's in the runner, and unshare's and the references' in this process, from before fork to")
	p("           after the command is reaped (os/exec, stdin and stdout /dev/null, stderr captured)")
	p("")

	p("process trees")
	p("  shepherd  this process (container.Runtime.Create) -job pipe-> shepherd-shim as monitor, started ahead as")
	p("            the Runtime's spare (\"no spare\" row: exec'd now) (own session; copies stdout/stderr to the CRI")
	p("            log; later reaps and writes exit.json) -clone(6 new namespaces, into the")
	p("            cgroup)+exec-> shepherd-shim as init (lo up, overlay, /proc, /dev, /sys, /etc files, pivot_root,")
	p("            masked paths; blocks opening exec.fifo) == Start opens the fifo ==> init drops capabilities and")
	p("            execve /bin/true as PID 1; Run returns once execve closed the sync pipe. Wait: exit.json written.")
	p("  runc      runner -exec-> runc run (Go: config, cgroups, state) -exec-> runc init (/proc/self/exe; its C")
	p("            nsexec clones into the namespaces) -execve-> /bin/true; runc run waits, then destroys the container")
	p("  crun      runner -exec-> crun run (C) -clone(namespaces)-> init -execve-> /bin/true; crun waits, then deletes")
	p("  unshare   this process -exec-> unshare (unshare(2)) -fork-> -execve-> /bin/true: bare namespaces, no root")
	p("            filesystem, no cgroup, no mounts (a mount namespace copied from the host's)")
	p("")

	p("%-42s %8s %8s %8s %8s %6s %6s", "latency, ms", "median", "p90", "p99", "mean", "n", "fails")
	section := func(title string, names ...string) {
		if title != "" {
			p("%s", title)
		}
		for _, name := range names {
			t := r.row(name)
			if t == nil {
				continue
			}
			if len(t.headline()) == 0 {
				why := t.Skipped
				if why == "" {
					why = "no successful iteration"
				}
				p("  %-22s skipped: %s", t.Name, why)
				continue
			}
			for i, s := range t.Series {
				label := fmt.Sprintf("%-22s %s", t.Name, s)
				if i > 0 {
					label = fmt.Sprintf("%-22s %s", "", s)
				}
				l := t.Lat[i]
				fails := ""
				if i == 0 {
					fails = fmt.Sprint(t.Failures)
				}
				p("  %-40s %8s %8s %8s %8s %6d %6s", label, msf(l.Quantile(0.5)), msf(l.Quantile(0.9)),
					msf(l.Quantile(0.99)), msf(l.Mean()), len(l), fails)
			}
		}
	}
	section("", shepherdRow, noSpareRow, runcRow, crunRow, unshare5, unshare6)
	section("where shepherd's time goes (rows of their own: Create, Start, Wait and Delete called one by one)", phasesRow, noCgroupRow)
	section("references: a process start without namespaces", execRow, emptyGoRow, shimRow)
	for _, t := range r.Tools {
		if len(t.Errors) > 0 {
			p("  %s failed %d of %d attempts (warm-up included); first errors:", t.Name, t.Failures, t.Attempts)
			for _, e := range t.Errors {
				p("    %s", e)
			}
		}
	}
	p("")

	p("ratios of medians")
	for _, q := range []struct{ name, other string }{
		{"shepherd / crun", crunRow}, {"shepherd / runc", runcRow}, {"shepherd / unshare, 6 namespaces", unshare6},
	} {
		if v, ok := ratio(r.median(shepherdRow), r.median(q.other)); ok {
			p("  %-34s %.2f", q.name, v)
		} else {
			p("  %-34s not measured", q.name)
		}
	}
	p("")

	r.printBreakdown(p)

	p("targets (shepherd Run+Wait median)")
	met := 0
	for _, t := range targets {
		ok, measured := r.met(t)
		if !measured {
			p("  %-44s not measured: %s has no figure", t.Text, t.Other)
			continue
		}
		if ok {
			met++
		}
		other := r.median(t.Other)
		limit := time.Duration(float64(other) * t.Factor)
		p("  %-44s %s ms vs %s ms (%s median %s ms x %.1f)  %s", t.Text, msf(r.median(shepherdRow)), msf(limit),
			t.Other, msf(other), t.Factor, benchutil.PassMiss(ok))
	}
	p("")

	r.printCleanup(p)
	p("")
	p("targets met: %d of %d", met, len(targets))
}

// printBreakdown reads the phase row against the references.
func (r *results) printBreakdown(p func(string, ...any)) {
	ph := r.row(phasesRow)
	if ph == nil || len(ph.headline()) == 0 {
		return
	}
	med := func(i int) time.Duration { return ph.Lat[i].Quantile(0.5) }
	create, start, wait, del := med(0), med(1), med(2), med(3)
	p("notes")
	p("  shepherd's medians by phase: Create %s ms, Start %s ms, Wait %s ms (sum %s ms), Delete %s ms",
		msf(create), msf(start), msf(wait), msf(create+start+wait), msf(del))
	if shim := r.median(shimRow); shim > 0 {
		p("  Create hands the container to the spare monitor, which starts shepherd-shim as init in the new")
		p("  namespaces; a bare start of it takes %s ms (the \"no spare\" row pays it twice); the rest is the",
			msf(shim))
		p("  namespaces, the cgroup, the overlay and the other mounts, pivot_root and the files Create writes")
		if g := r.median(emptyGoRow); g > 0 {
			p("  for comparison, an empty Go program starts in %s ms, a static C one (/bin/true) in %s ms",
				msf(g), msf(r.median(execRow)))
		}
	}
	if nc := r.row(noCgroupRow); nc != nil && len(nc.headline()) > 0 {
		ncMed := func(i int) time.Duration { return nc.Lat[i].Quantile(0.5) }
		p("  the per-container cgroup (medians with it minus without): Create %+.2f ms, Start %+.2f ms,",
			ms64(create-ncMed(0)), ms64(start-ncMed(1)))
		p("  Wait %+.2f ms, Delete %+.2f ms", ms64(wait-ncMed(2)), ms64(del-ncMed(3)))
	}
	if u := r.median(unshare6); u > 0 {
		p("  for scale: unshare's six bare namespaces, with its own start and a fork and exec, take %s ms", msf(u))
	}
	p("  shepherd's figure includes an overlayfs mount (upperdir and workdir made per container), the /etc")
	p("  files and the log pipes; runc and crun mount a plain read-only directory and write no log")
	p("")
}

func (r *results) printCleanup(p func(string, ...any)) {
	c := r.Cleanup
	if c == nil {
		return
	}
	p("cleanup")
	p("  containers left at the end (each iteration deletes its own): shepherd %d, runc/crun %d", len(c.Shepherd), len(c.OCI))
	mounts := "none"
	if len(c.Mounts) > 0 {
		mounts = "LEFT: " + strings.Join(c.Mounts, ", ")
	}
	p("  mounts below the temporary directory: %s", mounts)
	cgs := "none"
	if len(c.Cgroups) > 0 {
		cgs = "LEFT: " + strings.Join(c.Cgroups, ", ")
	}
	p("  cgroups named for this run: %s", cgs)
	host := "unchanged: " + strings.Join(c.HostCgroup2, ", ")
	if strings.Join(c.HostCgroup2, ",") != strings.Join(r.HostCgroups.V2, ",") {
		host = fmt.Sprintf("CHANGED: %q, was %q", c.HostCgroup2, r.HostCgroups.V2)
	}
	p("  the host's cgroup2 mounts: %s", host)
	layer := "unchanged"
	if len(c.LayerChanges) > 0 {
		layer = "CHANGED: " + strings.Join(c.LayerChanges, "; ")
	}
	p("  the shared layer directory (paths, modes, sizes, mtimes): %s", layer)
	p("  temporary directory removed: %v", c.Removed)
	for _, e := range c.Errors {
		p("  error: %s", e)
	}
}

// dirty says whether cleanup left anything behind or failed.
func (c *cleanupReport) dirty() bool {
	return len(c.Mounts) > 0 || len(c.Cgroups) > 0 || len(c.Errors) > 0 || !c.Removed
}

func bundleTool(r *results) string {
	if r.ToolPaths[runcRow] != "" {
		return "runc"
	}
	return "crun"
}

// short abbreviates a sha256 digest.
func short(id string) string {
	if s, ok := strings.CutPrefix(id, "sha256:"); ok && len(s) > 12 {
		return "sha256:" + s[:12]
	}
	return id
}
