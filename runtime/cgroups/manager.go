package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// ErrNoHierarchy is returned by [Manager.Create] and [Manager.Load] when the
// host has no cgroup2 hierarchy Shepherd can create cgroups in.
var ErrNoHierarchy = errors.New("no usable cgroup v2 hierarchy")

// ErrUnavailable is wrapped by errors for something a controller missing from
// the hierarchy would provide, e.g. "memory.events: cgroup controller
// unavailable".
var ErrUnavailable = errors.New("cgroup controller unavailable")

// Options configure [Open].
type Options struct {
	// Mount is the cgroup2 mount point; "" finds it in /proc/self/mountinfo
	// (the first cgroup2 entry).
	Mount string
	// Root is Shepherd's root cgroup, relative to Mount; "" is "shepherd".
	Root string
	// Log receives what Open found and, once per Manager, each resource it
	// cannot enforce; nil discards.
	Log *slog.Logger
}

// defaultRoot is the root cgroup when [Options.Root] is empty.
const defaultRoot = "shepherd"

// killReasonKey is the key of [Manager.Unavailable] for a missing cgroup.kill.
const killReasonKey = "cgroup.kill"

// enabledControllers are the controllers Open and Create enable wherever the
// parent offers them, in the order they are written.
func enabledControllers() []string {
	return []string{"cpu", "cpuset", "hugetlb", "io", "memory", "pids"}
}

// reportedControllers are the controllers [Manager.Unavailable] speaks for:
// the ones Shepherd enforces (cpu, memory, pids) and io and cpuset.
func reportedControllers() []string {
	return []string{"cpu", "cpuset", "io", "memory", "pids"}
}

// v1Name is a controller's name in cgroup v1, where io was blkio.
func v1Name(controller string) string {
	if controller == "io" {
		return "blkio"
	}
	return controller
}

// Manager creates and loads cgroups below Shepherd's root cgroup. It is safe
// for concurrent use.
type Manager struct {
	mount     string
	root      string // relative to mount
	rootPath  string
	available bool
	usable    []string // sorted
	// unavailable maps reported controllers (and cgroup.kill) to why they
	// cannot be used; it never changes after Open.
	unavailable map[string]string
	canKill     bool
	log         *slog.Logger
	fs          cgroupFS

	mu sync.Mutex
	// logged holds the resources whose skipping has been logged: once per
	// Manager, since every container on the host would repeat it.
	logged map[string]bool
}

// host is what Open touches besides the options: the running system's
// files in production, a fake cgroupfs in unit tests.
type host struct {
	mountinfo string
	fs        cgroupFS
}

// Open finds the cgroup2 hierarchy, creates the root cgroup (and its
// parents), and enables in each cgroup.subtree_control from the mount down
// to the root, and in the root's own, every controller of cpu, cpuset,
// hugetlb, io, memory and pids that the parent offers in cgroup.controllers.
//
// A missing controller is never an error: it is left out of Controllers and
// explained by Unavailable. Without a cgroup2 mount, or where the hierarchy
// refuses us new cgroups (read-only, no permission), Open returns a Manager
// whose Available is false. Open fails only on unexpected I/O errors and
// when an explicit Options.Mount is not a cgroup2 mount.
func Open(opts Options) (*Manager, error) {
	return open(opts, host{mountinfo: "/proc/self/mountinfo", fs: kernelFS{}})
}

func open(opts Options, h host) (*Manager, error) {
	m := &Manager{
		root:   opts.Root,
		log:    opts.Log,
		fs:     h.fs,
		logged: make(map[string]bool),
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.root == "" {
		m.root = defaultRoot
	}
	if err := checkRel(m.root); err != nil {
		return nil, fmt.Errorf("cgroups: root %q: %w", m.root, err)
	}

	// mountinfo is read at most once: to find the mount, and to explain a
	// missing controller by the cgroup v1 hierarchy that holds it.
	var mounts *cgroupMounts
	var mountsErr error
	readMounts := func() (*cgroupMounts, error) {
		if mounts == nil && mountsErr == nil {
			mi, err := readMountinfo(h.mountinfo)
			if err != nil {
				mountsErr = err
			} else {
				mounts = &mi
			}
		}
		return mounts, mountsErr
	}

	if opts.Mount == "" {
		mi, err := readMounts()
		if err != nil {
			return nil, fmt.Errorf("cgroups: finding the cgroup2 mount: %w", err)
		}
		if mi.unified == "" {
			m.setUnavailable(fmt.Sprintf("no cgroup2 file system is mounted (none in %s)", h.mountinfo))
			return m, nil
		}
		m.mount = mi.unified
	} else {
		m.mount = filepath.Clean(opts.Mount)
	}
	m.rootPath = filepath.Join(m.mount, m.root)

	// The cgroups from the mount down to the root.
	dirs := []string{m.mount}
	for _, part := range strings.Split(m.root, "/") {
		dirs = append(dirs, filepath.Join(dirs[len(dirs)-1], part))
	}

	unavailable := make(map[string]string)
	for i, dir := range dirs {
		if i > 0 {
			if err := m.fs.Mkdir(dir); err != nil && !errors.Is(err, fs.ErrExist) {
				if errors.Is(err, fs.ErrPermission) || errors.Is(err, unix.EROFS) {
					m.mount, m.rootPath = "", ""
					m.setUnavailable(fmt.Sprintf("cannot create cgroups in the cgroup v2 hierarchy: %v", err))
					return m, nil
				}
				return nil, fmt.Errorf("cgroups: %w", err)
			}
		}
		offered, err := readSet(filepath.Join(dir, "cgroup.controllers"))
		if err != nil {
			if i == 0 && errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("cgroups: %s is not a cgroup2 mount: %w", m.mount, err)
			}
			return nil, fmt.Errorf("cgroups: %w", err)
		}
		for _, c := range reportedControllers() {
			if offered[c] || unavailable[c] != "" {
				continue
			}
			if i == 0 {
				mi, _ := readMounts() // without mountinfo the reason is vaguer, no worse
				unavailable[c] = notOfferedReason(m.mount, c, mi)
			} else {
				unavailable[c] = fmt.Sprintf("not delegated to %s: its parent does not enable it in cgroup.subtree_control", dir)
			}
		}
		var want []string
		for _, c := range enabledControllers() {
			if offered[c] {
				want = append(want, c)
			}
		}
		refused, err := enable(m.fs, dir, want)
		if err != nil {
			return nil, fmt.Errorf("cgroups: %w", err)
		}
		for c, err := range refused {
			reason := fmt.Sprintf("enabling it in %s failed: %v", filepath.Join(dir, "cgroup.subtree_control"), err)
			if errors.Is(err, unix.EBUSY) {
				// Typically a container's own cgroup namespace root,
				// holding the process that runs us.
				reason += " (the cgroup holds processes: move them to a child cgroup first)"
			}
			unavailable[c] = reason
		}
	}

	enabled, err := readSet(filepath.Join(m.rootPath, "cgroup.subtree_control"))
	if err != nil {
		return nil, fmt.Errorf("cgroups: %w", err)
	}
	for _, c := range enabledControllers() {
		if enabled[c] {
			m.usable = append(m.usable, c)
			delete(unavailable, c)
		}
	}
	slices.Sort(m.usable)
	for _, c := range reportedControllers() {
		if !enabled[c] && unavailable[c] == "" {
			unavailable[c] = fmt.Sprintf("not enabled in %s", filepath.Join(m.rootPath, "cgroup.subtree_control"))
		}
	}

	// The mount's root cgroup never has cgroup.kill, so look in ours.
	switch _, err := os.Stat(filepath.Join(m.rootPath, "cgroup.kill")); {
	case err == nil:
		m.canKill = true
	case errors.Is(err, fs.ErrNotExist):
		unavailable[killReasonKey] = "the kernel has no cgroup.kill (Linux 5.14 added it); Kill signals each process instead"
	default:
		return nil, fmt.Errorf("cgroups: %w", err)
	}

	m.available = true
	m.unavailable = unavailable
	m.log.Info("cgroup v2 hierarchy", "mount", m.mount, "root", m.rootPath,
		"controllers", strings.Join(m.usable, ","), "cgroupKill", m.canKill)
	for _, k := range slices.Sorted(maps.Keys(unavailable)) {
		m.log.Warn("cgroup feature unavailable", "feature", k, "reason", unavailable[k])
	}
	return m, nil
}

// notOfferedReason explains why the hierarchy at mount does not offer
// controller, naming the cgroup v1 mount that holds it when there is one.
func notOfferedReason(mount, controller string, mi *cgroupMounts) string {
	if mi != nil {
		if at, ok := mi.v1[v1Name(controller)]; ok {
			return fmt.Sprintf("not offered by the cgroup v2 hierarchy at %s (the host gives it to cgroup v1, mounted at %s)", mount, at)
		}
	}
	return fmt.Sprintf("not offered by the cgroup v2 hierarchy at %s (the kernel lacks it, it is disabled at boot, or an unmounted cgroup v1 hierarchy holds it)", mount)
}

// setUnavailable makes m a Manager without a usable hierarchy.
func (m *Manager) setUnavailable(reason string) {
	m.available = false
	m.unavailable = make(map[string]string)
	for _, c := range reportedControllers() {
		m.unavailable[c] = reason
	}
	m.unavailable[killReasonKey] = reason
	m.log.Warn("no usable cgroup v2 hierarchy: no resource limits will be enforced", "reason", reason)
}

// enable enables controllers in dir's cgroup.subtree_control, skipping those
// already enabled. It returns the controllers the kernel refused, with its
// error, and fails only when the file cannot be read.
func enable(fsys cgroupFS, dir string, controllers []string) (map[string]error, error) {
	name := filepath.Join(dir, "cgroup.subtree_control")
	have, err := readSet(name)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, c := range controllers {
		if !have[c] {
			missing = append(missing, c)
		}
	}
	if len(missing) == 0 {
		return nil, nil
	}
	if fsys.WriteFile(name, "+"+strings.Join(missing, " +")) == nil {
		return nil, nil
	}
	// The kernel applies a multi-controller write all or nothing; one at a
	// time finds the ones it refuses and enables the rest.
	refused := make(map[string]error)
	for _, c := range missing {
		if err := fsys.WriteFile(name, "+"+c); err != nil {
			refused[c] = err
		}
	}
	return refused, nil
}

// Available reports whether there is a cgroup2 hierarchy to create cgroups in.
func (m *Manager) Available() bool { return m.available }

// Mount is the cgroup2 mount point, "" without one.
func (m *Manager) Mount() string { return m.mount }

// RootPath is the absolute directory of the root cgroup, "" without a
// hierarchy.
func (m *Manager) RootPath() string { return m.rootPath }

// Controllers are the usable controllers, those enabled in the root's
// cgroup.subtree_control, sorted.
func (m *Manager) Controllers() []string { return slices.Clone(m.usable) }

// Unavailable maps each of cpu, memory, pids, io and cpuset that is not
// usable, and "cgroup.kill" if the kernel lacks it, to a human reason.
func (m *Manager) Unavailable() map[string]string { return maps.Clone(m.unavailable) }

// CanKill reports whether the kernel has cgroup.kill (Linux 5.14), with which
// [Cgroup.Kill] kills a cgroup's processes in one step.
func (m *Manager) CanKill() bool { return m.canKill }

// checkRel checks that rel is a clean relative path that stays below its
// base.
func checkRel(rel string) error {
	switch {
	case rel == "" || rel == ".":
		return errors.New("empty cgroup path")
	case filepath.IsAbs(rel):
		return errors.New("cgroup path must be relative")
	case filepath.Clean(rel) != rel:
		return errors.New("cgroup path is not clean")
	}
	for _, part := range strings.Split(rel, "/") {
		if part == ".." {
			return errors.New("cgroup path leaves its base")
		}
	}
	return nil
}
