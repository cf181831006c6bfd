package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/shepherd-lab/shepherd/runtime/cgroups"
	"github.com/shepherd-lab/shepherd/runtime/container"
)

// cleanupReport is what close did and found.
type cleanupReport struct {
	// Shepherd and OCI are containers still there at the end, deleted
	// then: each iteration deletes its own, so only failed ones remain.
	Shepherd, OCI []string
	Mounts        []string // under the temporary directory, at the end
	Cgroups       []string // named for this run, still there after cleanup
	// HostCgroup2 are the host's cgroup2 mount points at the end; they
	// must be what they were before (fixture.hostLayout).
	HostCgroup2 []string
	// LayerChanges says how the shared layer directory changed, if it did.
	LayerChanges []string
	Removed      bool // the temporary directory is gone
	Errors       []string
}

// close deletes every container left, stops the runner, removes the bench
// cgroup, checks for mounts, cgroups and changes left behind, and removes
// the temporary directory unless something is still mounted in it. It may
// be called more than once; only the first call does anything.
func (f *fixture) close() *cleanupReport {
	if f.closed {
		return nil
	}
	f.closed = true
	rep := &cleanupReport{}
	errf := func(format string, args ...any) { rep.Errors = append(rep.Errors, fmt.Sprintf(format, args...)) }
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	for _, rt := range []*container.Runtime{f.rt, f.rtNoCg, f.rtNoSpare} {
		if rt == nil {
			continue
		}
		defer rt.Close()
		list, err := rt.List()
		if err != nil {
			errf("list Shepherd's containers in %s: %v", rt.Root(), err)
		}
		for _, st := range list {
			rep.Shepherd = append(rep.Shepherd, st.ID)
			if err := rt.Delete(ctx, st.ID, true); err != nil {
				errf("delete Shepherd container %s: %v", st.ID, err)
			}
		}
	}
	if f.runner != nil {
		for _, tool := range []string{"runc", "crun"} {
			state := map[string]string{"runc": f.runcState, "crun": f.crunState}[tool]
			entries, _ := os.ReadDir(state)
			for _, e := range entries {
				rep.OCI = append(rep.OCI, tool+" "+e.Name())
				argv := []string{f.bins[tool], "--root", state, "delete", "--force", e.Name()}
				res, err := f.runner.exec(argv)
				if err != nil {
					// The runner is gone; the host's mount namespace has
					// the same cgroup v1 hierarchies.
					res = timedExec(argv)
				}
				err = res.check(0)
				if err != nil {
					errf("%s delete --force %s: %v", tool, e.Name(), err)
				}
			}
		}
		if err := f.runner.close(); err != nil {
			errf("%v", err)
		}
	}
	if f.cg != nil && f.cg.Available() {
		if err := (&cgroups.Cgroup{Path: f.cg.RootPath()}).Remove(); err != nil {
			errf("remove the bench cgroup %s: %v", f.cg.RootPath(), err)
		}
	}

	if f.layer != "" && f.layerFP != nil {
		if fp, err := fingerprintDir(f.layer); err != nil {
			errf("fingerprint the layer directory: %v", err)
		} else {
			rep.LayerChanges = f.layerFP.diff(fp, 5)
		}
	}
	ms, err := readMounts("/proc/self/mountinfo")
	if err != nil {
		errf("%v", err)
	}
	rep.Mounts = mountsUnder(ms, f.dir)
	rep.HostCgroup2 = layoutOf(ms).V2
	rep.Cgroups = cgroupsNamed(f.prefix)
	if len(rep.Mounts) > 0 || err != nil {
		// Removing through a mount would reach what is mounted there.
		errf("%s left in place: mounts remain below it", f.dir)
		return rep
	}
	if err := os.RemoveAll(f.dir); err != nil {
		errf("remove %s: %v", f.dir, err)
	} else {
		rep.Removed = true
	}
	return rep
}

// cgroupsNamed finds cgroups, in every hierarchy mounted below
// /sys/fs/cgroup and at most four levels down, whose name starts with
// prefix: Shepherd's root cgroup, and runc's and crun's per-container ones.
func cgroupsNamed(prefix string) []string {
	const top = "/sys/fs/cgroup"
	var found []string
	filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if strings.HasPrefix(d.Name(), prefix) {
			found = append(found, p)
			return fs.SkipDir
		}
		if strings.Count(strings.TrimPrefix(p, top), "/") >= 4 {
			return fs.SkipDir
		}
		return nil
	})
	return found
}

// fingerprint maps each path below a directory to its type, mode, size,
// modification time and link target.
type fingerprint map[string]string

func fingerprintDir(dir string) (fingerprint, error) {
	fp := fingerprint{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		v := fmt.Sprintf("%v %d %d", fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		if fi.Mode()&fs.ModeSymlink != 0 {
			t, _ := os.Readlink(p)
			v += " -> " + t
		}
		fp[rel] = v
		return nil
	})
	return fp, err
}

// diff lists up to max differences from fp to now.
func (fp fingerprint) diff(now fingerprint, max int) []string {
	var out []string
	for p, v := range fp {
		switch w, ok := now[p]; {
		case !ok:
			out = append(out, p+": removed")
		case w != v:
			out = append(out, fmt.Sprintf("%s: %s, was %s", p, w, v))
		}
	}
	for p := range now {
		if _, ok := fp[p]; !ok {
			out = append(out, p+": added")
		}
	}
	sort.Strings(out)
	if len(out) > max {
		out = append(out[:max], fmt.Sprintf("... %d more", len(out)-max))
	}
	return out
}
