package main

import (
	"fmt"
	"path/filepath"
	"syscall"
	"time"
)

// fsType names the file system dir is on, as far as the benchmark cares:
// whether fsync reaches a disk.
func fsType(dir string) string {
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

// processCPU is the CPU time, user and system, the process has used so far:
// etcd, apiserver and clients together, since they share the process.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
