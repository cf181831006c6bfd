package container

import "golang.org/x/sys/unix"

const (
	auditArch = unix.AUDIT_ARCH_X86_64
	sysClone  = unix.SYS_CLONE
	sysClone3 = unix.SYS_CLONE3
)

// deniedSyscalls is RuntimeDefault: the system calls Docker's and
// containerd's default profiles withhold from a container, each unless the
// container keeps the capability named (-1: never), plus io_uring (newer
// profiles refuse it) and, in seccompFilter, clone's namespace flags and
// clone3. It is a deny-list, not those profiles' allow-list: a syscall
// neither knows is allowed here, and argument filters beyond clone's
// (personality, socket families) are not applied. Calls of a foreign
// architecture (i386 via int 0x80, x32) are refused, so the list cannot
// be sidestepped by another syscall table. A slice, not a map: static
// data costs the shim nothing at start-up.
var deniedSyscalls = []deniedSyscall{
	{unix.SYS_ACCT, capSysPacct},
	{unix.SYS_ADD_KEY, -1},
	{unix.SYS_KEYCTL, -1},
	{unix.SYS_REQUEST_KEY, -1},
	{unix.SYS_BPF, capSysAdmin},
	{unix.SYS_CLOCK_ADJTIME, capSysTime},
	{unix.SYS_CLOCK_SETTIME, capSysTime},
	{unix.SYS_SETTIMEOFDAY, capSysTime},
	{unix.SYS_ADJTIMEX, capSysTime},
	{unix.SYS_CREATE_MODULE, capSysModule},
	{unix.SYS_INIT_MODULE, capSysModule},
	{unix.SYS_FINIT_MODULE, capSysModule},
	{unix.SYS_DELETE_MODULE, capSysModule},
	{unix.SYS_GET_KERNEL_SYMS, -1},
	{unix.SYS_QUERY_MODULE, -1},
	{unix.SYS_KEXEC_LOAD, capSysBoot},
	{unix.SYS_KEXEC_FILE_LOAD, capSysBoot},
	{unix.SYS_REBOOT, capSysBoot},
	{unix.SYS_IOPL, capSysRawio},
	{unix.SYS_IOPERM, capSysRawio},
	{unix.SYS_KCMP, capSysPtrace},
	{unix.SYS_PROCESS_VM_READV, capSysPtrace},
	{unix.SYS_PROCESS_VM_WRITEV, capSysPtrace},
	{unix.SYS_LOOKUP_DCOOKIE, capSysAdmin},
	{unix.SYS_MOUNT, capSysAdmin},
	{unix.SYS_UMOUNT2, capSysAdmin},
	{unix.SYS_PIVOT_ROOT, capSysAdmin},
	{unix.SYS_FSOPEN, capSysAdmin},
	{unix.SYS_FSCONFIG, capSysAdmin},
	{unix.SYS_FSMOUNT, capSysAdmin},
	{unix.SYS_FSPICK, capSysAdmin},
	{unix.SYS_MOVE_MOUNT, capSysAdmin},
	{unix.SYS_OPEN_TREE, capSysAdmin},
	{unix.SYS_NAME_TO_HANDLE_AT, capSysAdmin},
	{unix.SYS_OPEN_BY_HANDLE_AT, -1},
	{unix.SYS_PERF_EVENT_OPEN, capSysAdmin},
	{unix.SYS_QUOTACTL, capSysAdmin},
	{unix.SYS_SETNS, capSysAdmin},
	{unix.SYS_UNSHARE, capSysAdmin},
	{unix.SYS_SETDOMAINNAME, capSysAdmin},
	{unix.SYS_SETHOSTNAME, capSysAdmin},
	{unix.SYS_SYSLOG, capSysAdmin},
	{unix.SYS_FANOTIFY_INIT, capSysAdmin},
	{unix.SYS_SWAPON, capSysAdmin},
	{unix.SYS_SWAPOFF, capSysAdmin},
	{unix.SYS_MBIND, capSysNice},
	{unix.SYS_SET_MEMPOLICY, capSysNice},
	{unix.SYS_MOVE_PAGES, capSysNice},
	{unix.SYS_NFSSERVCTL, -1},
	{unix.SYS_USELIB, -1},
	{unix.SYS_USERFAULTFD, -1},
	{unix.SYS_USTAT, -1},
	{unix.SYS_SYSFS, -1},
	{unix.SYS__SYSCTL, -1},
	{unix.SYS_VHANGUP, -1},
	{unix.SYS_IO_URING_SETUP, -1},
	{unix.SYS_IO_URING_ENTER, -1},
	{unix.SYS_IO_URING_REGISTER, -1},
}
