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
// keeps the capabilities caps. Without CAP_SYS_ADMIN, clone may not make
// namespaces (Docker's argument filter) and clone3, whose flags sit behind
// a pointer a filter cannot read, fails with ENOSYS so libc falls back to
// clone.
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
		ld   = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq  = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jge  = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
		jset = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
		ret  = unix.BPF_RET | unix.BPF_K
		// offsets in struct seccomp_data: nr, arch, then the
		// arguments (64-bit each; the low half first on little-endian)
		offNr   = 0
		offArch = 4
		offArg0 = 16
		// CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET
		cloneNamespaces = 0x7E020000
	)
	// Instructions jump to labels; offsets are filled in at the end
	// (classic BPF counts them from the next instruction).
	const (
		toNext = iota
		toAllow
		toDeny
		toENOSYS
	)
	type insn struct {
		unix.SockFilter
		jt, jf int // labels
	}
	var p []insn
	emit := func(code uint16, k uint32, jt, jf int) {
		p = append(p, insn{unix.SockFilter{Code: code, K: k}, jt, jf})
	}
	emit(ld, offArch, toNext, toNext)
	emit(jeq, auditArch, toNext, toDeny)
	emit(ld, offNr, toNext, toNext)
	emit(jge, 0x40000000, toDeny, toNext) // the x32 ABI
	for _, nr := range nrs {
		emit(jeq, uint32(nr), toDeny, toNext)
	}
	if !have[capSysAdmin] && sysClone3 != 0 {
		emit(jeq, sysClone3, toENOSYS, toNext)
		emit(jeq, sysClone, toNext, toAllow)
		emit(ld, offArg0, toNext, toNext)
		emit(jset, cloneNamespaces, toDeny, toAllow)
	}
	allow := len(p)
	emit(ret, unix.SECCOMP_RET_ALLOW, toNext, toNext)
	deny := len(p)
	emit(ret, unix.SECCOMP_RET_ERRNO|uint32(unix.EPERM), toNext, toNext)
	enosys := len(p)
	emit(ret, unix.SECCOMP_RET_ERRNO|uint32(unix.ENOSYS), toNext, toNext)
	target := func(i, label int) uint8 {
		switch label {
		case toAllow:
			return uint8(allow - i - 1)
		case toDeny:
			return uint8(deny - i - 1)
		case toENOSYS:
			return uint8(enosys - i - 1)
		}
		return 0
	}
	out := make([]unix.SockFilter, len(p))
	for i, in := range p {
		out[i] = in.SockFilter
		if in.Code&unix.BPF_JMP != 0 {
			out[i].Jt, out[i].Jf = target(i, in.jt), target(i, in.jf)
		}
	}
	return out
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
