package benchutil

import (
	"fmt"
	"path/filepath"
	"syscall"
	"time"
)

// FSType names the file system dir is on, as far as a benchmark cares:
// whether fsync reaches a disk. It looks at dir's parent, so dir need not
// exist yet.
func FSType(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(filepath.Dir(dir), &st); err != nil {
		return "unknown"
	}
	// Magic numbers from statfs(2).
	switch magic := uint32(st.Type); magic {
	case 0xef53:
		return "ext2/3/4"
	case 0x58465342:
		return "xfs"
	case 0x9123683e:
		return "btrfs"
	case 0x2fc12fc1:
		return "zfs"
	case 0x794c7630:
		return "overlayfs"
	case 0x01021994:
		return "tmpfs (fsync is free: write figures are optimistic)"
	default:
		return fmt.Sprintf("file system magic %#x", magic)
	}
}

// SelfCPU is the CPU time, user and system, this process has used so far:
// everything that runs in it together (the embedded etcd, and the
// apiserver or the pod creates and watch and the clients), since they
// share it.
func SelfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
