package container

import (
	"strings"

	"golang.org/x/sys/unix"
)

// capNames lists the capabilities by number (linux/capability.h).
var capNames = []string{
	"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL",
	"SETGID", "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE",
	"NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
	"SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
	"SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME",
	"SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL",
	"SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
	"BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
}

func capabilityByName(name string) (int, bool) {
	n := strings.TrimPrefix(strings.ToUpper(name), "CAP_")
	for i, c := range capNames {
		if c == n {
			return i, true
		}
	}
	return 0, false
}

func allCapabilities() []int {
	out := make([]int, len(capNames))
	for i := range out {
		out[i] = i
	}
	return out
}

// lastCap is the highest capability the running kernel knows.
func lastCap() int {
	b, err := readFileString("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return len(capNames) - 1
	}
	n := 0
	for _, c := range strings.TrimSpace(b) {
		n = n*10 + int(c-'0')
	}
	return n
}

// applyBoundingSet runs on the init's locked OS thread just before
// execve: capabilities are per thread, and execve makes this thread the
// whole process. It drops everything outside keep from the bounding set
// (which needs CAP_SETPCAP, so it comes before the uid change) and clears
// the ambient set; clearInheritable and, for root, setProcessCapabilities
// do the rest. A non-root user ends up with empty effective and permitted
// sets after execve, as with containerd: capabilities only reach root.
func applyBoundingSet(keep []int) error {
	want := map[int]bool{}
	for _, c := range keep {
		want[c] = true
	}
	last := lastCap()
	for c := 0; c <= last; c++ {
		if want[c] {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
			return &stageError{op: "drop capability " + capName(c) + " from the bounding set", err: err}
		}
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return &stageError{op: "clear ambient capabilities", err: err}
	}
	return nil
}

// setProcessCapabilities sets permitted = effective = keep and clears the
// inheritable set, on the calling thread.
func setProcessCapabilities(keep []int) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var have [2]unix.CapUserData
	if err := unix.Capget(&hdr, &have[0]); err != nil {
		return &stageError{op: "read capabilities", err: err}
	}
	var data [2]unix.CapUserData
	for _, c := range keep {
		// A capability the runtime itself lacks (its own bounding set,
		// say) cannot be given; privileged means "all we have".
		if have[c/32].Permitted&(1<<(uint(c)%32)) == 0 {
			continue
		}
		data[c/32].Permitted |= 1 << (uint(c) % 32)
		data[c/32].Effective |= 1 << (uint(c) % 32)
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return &stageError{op: "set capabilities", err: err}
	}
	return nil
}

func capName(c int) string {
	if c < len(capNames) {
		return "CAP_" + capNames[c]
	}
	return "capability " + itoa(c)
}

// clearInheritable empties the calling thread's inheritable set, for every
// user: a runtime started with inheritable capabilities (systemd's
// AmbientCapabilities=, say) must not pass them to a file with inheritable
// file capabilities in the container.
func clearInheritable() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return &stageError{op: "read capabilities", err: err}
	}
	data[0].Inheritable, data[1].Inheritable = 0, 0
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return &stageError{op: "clear inheritable capabilities", err: err}
	}
	return nil
}
