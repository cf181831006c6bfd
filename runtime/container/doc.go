// Package container is Shepherd's container runtime: it runs a process in
// fresh Linux namespaces on an overlayfs root filesystem, under a cgroup v2
// with the security defaults runc gives, and keeps each container's state
// on disk so that a restarted kubelet finds its containers still running.
//
// # Processes
//
// Runtime.Create starts a monitor (the shim executable, in its own session)
// which clones the init stage into new PID, mount and cgroup namespaces
// (and network, IPC and UTS ones unless the container joins a sandbox),
// directly into the container's cgroup (clone3's CLONE_INTO_CGROUP, so
// limits hold before the first instruction). Init builds the root
// filesystem, reports "ready" and blocks opening exec.fifo; Runtime.Start
// opens the fifo for writing, and init drops privileges and execs the
// user's process, which becomes PID 1. The monitor stays the container's
// parent: it turns stdout and stderr into CRI log lines and records the
// exit in exit.json.
//
// The shim executable is the small shepherd-shim binary when it sits
// beside the running one, else the running executable (shepherd-kubelet,
// or a test binary); either way the process re-executes itself as the init
// stage, and every such binary calls ShimMain first. shepherd-shim exists
// because Go runs every package's init before main: the kubelet's
// dependencies cost about 10 ms there, twice per container start, while
// the shim imports only the standard library and x/sys.
//
// # On disk
//
//	<root>/containers/<id>/config.json   the Spec (runtime writes; monitor and init read)
//	                       state.json    pids and start times, timestamps, cgroup (runtime)
//	                       exit.json     exit code, signal, OOM kill (monitor, once, atomically)
//	                       init-error    why the init stage failed, if it did
//	                       exec.fifo     the Create/Start rendezvous
//	                       rootfs/       the overlay mount point (mounted only inside the container)
//	                       upper/ work/  the overlay's writable layer
//	                       hostname hosts resolv.conf   bind-mounted into /etc
//	                       container.log the default log (CRI format)
//	<root>/sandboxes/<id>/{net,ipc,uts}  bind mounts holding a pod's namespaces
//
// Pids are stored with their start time (/proc/<pid>/stat field 22) and
// every signal goes through a pidfd opened after checking it, so a recycled
// pid is never signalled.
//
// # Root filesystem
//
// In the container's private mount namespace: the overlay (image layers
// as lowerdirs, upper/ as upperdir), /proc, /dev (tmpfs with null, zero,
// full, random, urandom, tty, pts, ptmx, shm, mqueue), /sys read-only,
// /sys/fs/cgroup (cgroup2, when the host has it), the /etc files and the
// Spec's mounts, then pivot_root and a lazy unmount of the old root. For
// unprivileged containers MaskedPaths are covered and ReadonlyPaths made
// read-only after the pivot.
package container
