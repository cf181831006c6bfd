// Package cgroups places pods and containers in a cgroup v2 hierarchy and
// enforces on them what that hierarchy offers: cpu.weight and cpu.max,
// memory.max and memory.high, pids.max.
//
// # Layout
//
// [Open] finds the cgroup2 mount (the first cgroup2 entry of
// /proc/self/mountinfo unless [Options.Mount] says where), creates Shepherd's
// root cgroup under it ([Options.Root], "shepherd" by default) and enables,
// from the mount down to the root and in the root itself, every controller of
// cpu, cpuset, hugetlb, io, memory and pids that each parent offers. Below the
// root the caller picks the relative paths; the kubelet uses
//
//	<mount>/<root>/kubepods/pod<uid>/<container-id>
//
// cgroup v2 lets only leaves hold processes once a controller is enabled for
// their children (the "no internal processes" rule), so pods are inner nodes
// and containers are leaves. [Manager.Create] enables the usable controllers
// in each inner node's cgroup.subtree_control on its way down and never in the
// leaf's, so the leaf can take processes.
//
// # Hosts that give controllers to cgroup v1
//
// A hybrid host mounts the cgroup v1 controllers (cpu, memory, pids, ...) at
// /sys/fs/cgroup/<name> and a cgroup2 file system beside them, often at
// /sys/fs/cgroup/unified. A controller bound to a v1 hierarchy cannot be
// enabled in v2, so there the v2 hierarchy may offer nothing but hugetlb. The
// package still works there, and says so rather than pretending:
//
//   - [Manager.Controllers] lists only what is enabled in the root's
//     cgroup.subtree_control; [Manager.Unavailable] gives, for each of cpu,
//     memory, pids, io and cpuset that is missing, the reason ("not offered by
//     the cgroup v2 hierarchy at /sys/fs/cgroup/unified (the host gives it to
//     cgroup v1, mounted at /sys/fs/cgroup/memory)").
//   - [Manager.Create] still creates the cgroup and puts nothing it cannot
//     enforce into it: each resource it could not write is in
//     [Cgroup.Skipped] with the reason, and is logged once per Manager rather
//     than once per container.
//   - What the v2 core provides without any controller keeps working: moving
//     processes, CPU usage (cpu.stat usage_usec), the process count,
//     cgroup.kill (Linux 5.14) and cgroup.events. [Stats] says which parts
//     are missing (HasMemory, HasPids) instead of reporting zeros as facts;
//     [Cgroup.OOMKills] returns [ErrUnavailable].
//
// Without any cgroup2 mount, Open returns a Manager whose Available is false
// and whose Create returns [ErrNoHierarchy]; the caller decides whether that
// is fatal.
//
// # Starting a process inside its cgroup
//
// Start a container's process directly in its cgroup with clone3's
// CLONE_INTO_CGROUP (Linux 5.7) rather than starting it and then writing its
// pid to cgroup.procs: its memory, CPU and pids limits then hold from its
// first instruction, there is no window in which it or a child it forks runs
// in the parent's cgroup, and the starter never needs write access to
// cgroup.procs. With os/exec:
//
//	dir, err := cg.OpenDir()
//	if err != nil { ... }
//	defer dir.Close()
//	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(dir.Fd())}
//	err = cmd.Start()
//
// [Cgroup.AddProc] remains for processes that already exist.
//
// # Concurrency
//
// A Manager is safe for concurrent use and holds no state about the cgroups
// below its root: a [Cgroup] is a path, and every method reads the kernel's
// files afresh, so several Managers (or processes) may work on one hierarchy.
package cgroups
