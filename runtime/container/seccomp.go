package container

import (
	"runtime"
	"sort"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Seccomp profiles a Spec may ask for (Kubernetes' seccompProfile types).
const (
	SeccompUnconfined     = "Unconfined"
	SeccompRuntimeDefault = "RuntimeDefault"
)

// deniedSyscall is a system call RuntimeDefault refuses unless the
// process keeps cap (-1: always).
type deniedSyscall struct {
	nr  uintptr
	cap int
}

const (
	capSysModule = 16
	capSysRawio  = 17
	capSysPtrace = 19
	capSysPacct  = 20
	capSysAdmin  = 21
	capSysBoot   = 22
	capSysNice   = 23
	capSysTime   = 25
)

// seccompFilter builds the RuntimeDefault BPF program for a process that
// keeps the capabilities caps.
func seccompFilter(caps []int) []unix.SockFilter {
	have := map[int]bool{}
	for _, c := range caps {
		have[c] = true
	}
	var nrs []uintptr
	for _, d := range deniedSyscalls {
		if d.cap < 0 || !have[d.cap] {
			nrs = append(nrs, d.nr)
		}
	}
	sort.Slice(nrs, func(i, j int) bool { return nrs[i] < nrs[j] })
	const (
		ld  = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jge = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
		ret = unix.BPF_RET | unix.BPF_K
		// offsets in struct seccomp_data
		offNr   = 0
		offArch = 4
	)
	n := len(nrs)
	// Layout: 0 ld arch; 1 jeq native; 2 ld nr; 3 jge x32 bit; 4..4+n-1
	// jeq nr; 4+n ret allow; 5+n ret EPERM. Jump offsets count from the
	// next instruction.
	deny := uint8(5 + n)
	prog := []unix.SockFilter{
		{Code: ld, K: offArch},
		{Code: jeq, K: auditArch, Jt: 0, Jf: deny - 2},
		{Code: ld, K: offNr},
		{Code: jge, K: 0x40000000, Jt: deny - 4, Jf: 0},
	}
	for i, nr := range nrs {
		prog = append(prog, unix.SockFilter{Code: jeq, K: uint32(nr), Jt: deny - uint8(4+i) - 1, Jf: 0})
	}
	prog = append(prog,
		unix.SockFilter{Code: ret, K: unix.SECCOMP_RET_ALLOW},
		unix.SockFilter{Code: ret, K: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
	)
	return prog
}

// installSeccomp loads the filter on the calling thread (the one that
// execs). It needs no_new_privs or CAP_SYS_ADMIN, which the caller has.
func installSeccomp(prog []unix.SockFilter) error {
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	err := unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&fprog)), 0, 0)
	runtime.KeepAlive(prog)
	if err != nil {
		return &stageError{"install seccomp filter", err}
	}
	return nil
}
