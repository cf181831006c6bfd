package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-lab/shepherd/internal/mountinfo"
	"github.com/shepherd-lab/shepherd/runtime/cgroups"
)

// cleanupReport is what close did and found. A clean run deletes its pods
// through the apiserver and the kubelet stops their containers; the rest
// is for runs that failed part way.
type cleanupReport struct {
	Pods       int           // benchmark pods still there at the end, deleted then
	PodsGone   time.Duration // from the deletes to the last pod gone
	PodsForced []string      // removed at once (grace 0) after the graceful wait
	ForcedWhy  string        // why they were
	PodsLeft   []string      // still in the apiserver when it was stopped
	// Kubelet and APIServer say how each process stopped.
	Kubelet, APIServer string
	// Containers were in the kubelet's runtime after it stopped (`ps -a
	// -q`), removed then with `rm -f`.
	Containers []string
	Unmounted  []string // mounts below the run's directory, unmounted
	// Killed are this run's processes (its binaries, and containers
	// under its monitors) still alive after that, killed.
	Killed []string
	// Cgroup is the run's cgroup root; CgroupProcs were still in it when
	// it was removed; CgroupLeft says it could not be.
	Cgroup      string
	CgroupProcs int
	CgroupLeft  bool
	MountsLeft  []string // below the run's directory, at the very end
	Removed     bool     // the run's directory is gone
	Errors      []string
}

// dirty says whether cleanup left anything behind or failed.
func (r *cleanupReport) dirty() bool {
	return len(r.PodsLeft) > 0 || r.CgroupLeft || len(r.MountsLeft) > 0 || !r.Removed || len(r.Errors) > 0
}

// close deletes the benchmark's pods and waits for them to be gone, stops
// the kubelet and the apiserver, then removes whatever is left of the run:
// containers, mounts, processes, the cgroup and the directory. It may be
// called more than once; only the first call does anything.
func (c *cluster) close() *cleanupReport {
	if c.closed {
		return nil
	}
	c.closed = true
	rep := &cleanupReport{}
	errf := func(format string, args ...any) { rep.Errors = append(rep.Errors, fmt.Sprintf(format, args...)) }
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	if c.client != nil && c.api != nil && c.api.AliveErr() == nil {
		c.deleteAllPods(ctx, rep, errf)
	}
	if c.kubelet != nil {
		rep.Kubelet = c.kubelet.Stop(15 * time.Second)
	}
	if c.api != nil {
		rep.APIServer = c.api.Stop(15 * time.Second)
	}
	if os.Geteuid() == 0 && fileExists(c.bin("shepherd-kubelet")) && dirExists(filepath.Join(c.kubeletRoot, "runtime")) {
		c.removeContainers(ctx, rep, errf)
	}
	c.unmountAll(rep, errf)
	c.killLeftovers(rep, errf)
	c.removeCgroup(rep, errf)

	ms, err := mountinfo.Read("/proc/self/mountinfo")
	if err != nil {
		errf("%v", err)
	}
	rep.MountsLeft = mountsUnder(ms, c.dir)
	if len(rep.MountsLeft) > 0 || err != nil {
		// Removing through a mount would reach what is mounted there.
		errf("%s left in place: mounts remain below it", c.dir)
		return rep
	}
	if err := os.RemoveAll(c.dir); err != nil {
		errf("remove %s: %v", c.dir, err)
	} else {
		rep.Removed = true
	}
	return rep
}

// deleteAllPods deletes every benchmark pod with the benchmark's grace
// period and waits for the kubelet to finish them; pods it does not
// finish within a minute are removed at once (grace 0).
func (c *cluster) deleteAllPods(ctx context.Context, rep *cleanupReport, errf func(string, ...any)) {
	pods := c.client.CoreV1().Pods(namespace)
	left := func() ([]string, error) {
		list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: benchLabel + "=" + benchValue})
		if err != nil {
			return nil, err
		}
		var names []string
		for _, p := range list.Items {
			names = append(names, p.Name)
		}
		return names, nil
	}
	// wait polls until no pod is left or timeout passes.
	wait := func(timeout time.Duration) []string {
		deadline := time.Now().Add(timeout)
		for {
			names, err := left()
			if err != nil {
				errf("list pods: %v", err)
				return nil
			}
			if len(names) == 0 || time.Now().After(deadline) {
				return names
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	names, err := left()
	if err != nil {
		errf("list pods: %v", err)
		return
	}
	rep.Pods = len(names)
	if len(names) == 0 {
		return
	}
	begin := time.Now()
	if err := c.deletePods(ctx, names, deleteGrace); err != nil {
		errf("%v", err)
	}
	graceful, why := time.Minute, "not finished by the kubelet within a minute"
	if c.kubelet == nil || c.kubelet.AliveErr() != nil {
		graceful, why = 0, "the kubelet is not running to finish them"
	}
	if names = wait(graceful); len(names) > 0 {
		rep.PodsForced, rep.ForcedWhy = names, why
		if err := c.deletePods(ctx, names, 0); err != nil {
			errf("%v", err)
		}
		names = wait(10 * time.Second)
	}
	rep.PodsGone = time.Since(begin)
	rep.PodsLeft = names
}

// removeContainers force-removes every container left in the kubelet's
// runtime, with the kubelet's own CLI on its root directory.
func (c *cluster) removeContainers(ctx context.Context, rep *cleanupReport, errf func(string, ...any)) {
	kubelet := c.bin("shepherd-kubelet")
	out, err := exec.CommandContext(ctx, kubelet, "--root-dir", c.kubeletRoot, "ps", "-a", "-q").Output()
	if err != nil {
		errf("shepherd-kubelet ps -a -q: %v", errText(err))
		return
	}
	rep.Containers = strings.Fields(string(out))
	for _, id := range rep.Containers {
		if out, err := exec.CommandContext(ctx, kubelet, "--root-dir", c.kubeletRoot, "rm", "-f", id).CombinedOutput(); err != nil {
			errf("shepherd-kubelet rm -f %s: %v: %s", id, err, strings.TrimSpace(string(out)))
		}
	}
}

func errText(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return fmt.Sprintf("%v: %s", err, strings.TrimSpace(string(ee.Stderr)))
	}
	return err.Error()
}

func dirExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// unmountAll unmounts everything mounted below the run's directory (the
// pods' namespace-holding bind mounts, volumes), deepest first.
func (c *cluster) unmountAll(rep *cleanupReport, errf func(string, ...any)) {
	ms, err := mountinfo.Read("/proc/self/mountinfo")
	if err != nil {
		errf("%v", err)
		return
	}
	points := mountsUnder(ms, c.dir)
	sort.Slice(points, func(i, j int) bool {
		return strings.Count(points[i], "/") > strings.Count(points[j], "/")
	})
	for i, p := range points {
		if i > 0 && p == points[i-1] {
			continue // mounted over itself: one unmount each, detached below
		}
		err := syscall.Unmount(p, 0)
		if err != nil && !errors.Is(err, syscall.EINVAL) {
			err = syscall.Unmount(p, syscall.MNT_DETACH)
		}
		if err != nil && !errors.Is(err, syscall.EINVAL) {
			errf("unmount %s: %v", p, err)
			continue
		}
		rep.Unmounted = append(rep.Unmounted, p)
	}
	// A point mounted more than once needs as many unmounts.
	for range 8 {
		ms, err := mountinfo.Read("/proc/self/mountinfo")
		if err != nil || len(mountsUnder(ms, c.dir)) == 0 {
			return
		}
		for _, p := range mountsUnder(ms, c.dir) {
			syscall.Unmount(p, syscall.MNT_DETACH)
		}
	}
}

// mountsUnder returns the mount points at or below dir.
func mountsUnder(ms []mountinfo.Mount, dir string) []string {
	var out []string
	for _, m := range ms {
		if m.Point == dir || strings.HasPrefix(m.Point, dir+"/") {
			out = append(out, m.Point)
		}
	}
	return out
}

// killLeftovers kills processes still running one of the run's binaries
// (a monitor whose container was not removed, say) and their children.
func (c *cluster) killLeftovers(rep *cleanupReport, errf func(string, ...any)) {
	procs, err := listProcesses()
	if err != nil {
		errf("%v", err)
		return
	}
	ours := map[int]bool{}
	for _, p := range procs {
		if strings.HasPrefix(p.Exe, c.dir+"/") {
			ours[p.PID] = true
		}
	}
	for _, p := range procs {
		if ours[p.PID] || ours[p.PPID] {
			rep.Killed = append(rep.Killed, fmt.Sprintf("%d %s (%s)", p.PID, p.Argv0, p.Exe))
			if err := syscall.Kill(p.PID, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
				errf("kill %d: %v", p.PID, err)
			}
		}
	}
}

// removeCgroup removes the run's cgroup root and every cgroup below it,
// killing what still runs in them.
func (c *cluster) removeCgroup(rep *cleanupReport, errf func(string, ...any)) {
	ms, err := mountinfo.Read("/proc/self/mountinfo")
	if err != nil {
		errf("%v", err)
		return
	}
	mount := ""
	for _, m := range ms {
		if m.FSType == "cgroup2" {
			mount = m.Point
			break
		}
	}
	if mount == "" {
		return // no cgroup2: the kubelet made no cgroups
	}
	path := filepath.Join(mount, c.cgroupRoot)
	rep.Cgroup = path
	if !dirExists(path) {
		return
	}
	rep.CgroupProcs = cgroupProcs(path)
	if err := (&cgroups.Cgroup{Path: path, Rel: c.cgroupRoot}).Remove(); err != nil {
		errf("remove cgroup %s: %v", path, err)
	}
	rep.CgroupLeft = dirExists(path)
}

// cgroupProcs counts the processes in the cgroup at dir and below.
func cgroupProcs(dir string) int {
	n := 0
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
			return nil
		}
		data, _ := os.ReadFile(p)
		n += len(strings.Fields(string(data)))
		return nil
	})
	return n
}

// printCleanup writes what cleanup found.
func printCleanup(r *cleanupReport, p func(string, ...any)) {
	p("cleanup")
	pods := fmt.Sprintf("%d deleted (grace %d s)", r.Pods, deleteGrace)
	if r.Pods > 0 {
		pods += fmt.Sprintf(", all gone after %.1fs", r.PodsGone.Seconds())
	}
	if len(r.PodsForced) > 0 {
		pods += fmt.Sprintf("; %d removed at once (grace 0), %s: %s", len(r.PodsForced), r.ForcedWhy, strings.Join(r.PodsForced, ", "))
	}
	if len(r.PodsLeft) > 0 {
		pods += "; LEFT: " + strings.Join(r.PodsLeft, ", ")
	}
	p("  pods at the end: %s", pods)
	p("  kubelet: %s; apiserver: %s", orText(r.Kubelet, "not running"), orText(r.APIServer, "not running"))
	p("  containers left in the runtime after the kubelet stopped (removed with rm -f): %s", listOrNone(r.Containers))
	p("  mounts below the run's directory, unmounted: %s", listOrNone(r.Unmounted))
	p("  processes of the run still alive, killed: %s", listOrNone(r.Killed))
	switch {
	case r.Cgroup == "":
		p("  cgroup: none (no cgroup2 mount)")
	case r.CgroupLeft:
		p("  cgroup %s: LEFT (%d processes were in it)", r.Cgroup, r.CgroupProcs)
	default:
		p("  cgroup %s: removed (%d processes were still in it)", r.Cgroup, r.CgroupProcs)
	}
	if len(r.MountsLeft) > 0 {
		p("  mounts LEFT below the run's directory: %s", strings.Join(r.MountsLeft, ", "))
	}
	p("  run's directory removed: %v", r.Removed)
	for _, e := range r.Errors {
		p("  error: %s", e)
	}
}

func orText(s, none string) string {
	if s == "" {
		return none
	}
	return s
}

func listOrNone(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	const max = 10
	if len(l) > max {
		return fmt.Sprintf("%d: %s, ...", len(l), strings.Join(l[:max], ", "))
	}
	return fmt.Sprintf("%d: %s", len(l), strings.Join(l, ", "))
}
