//go:build amd64

package container

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

// runFilter interprets the classic BPF subset seccompFilter emits, over a
// seccomp_data of (nr, arch, first argument).
func runFilter(t *testing.T, prog []unix.SockFilter, nr, arch uint32, arg0 uint64) uint32 {
	t.Helper()
	var data [64]byte
	binary.LittleEndian.PutUint32(data[0:], nr)
	binary.LittleEndian.PutUint32(data[4:], arch)
	binary.LittleEndian.PutUint64(data[16:], arg0)
	var acc uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			acc = binary.LittleEndian.Uint32(data[in.K:])
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K:
			if acc == in.K {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K:
			if acc >= in.K {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K:
			if acc&in.K != 0 {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case unix.BPF_RET | unix.BPF_K:
			return in.K
		default:
			t.Fatalf("instruction %d: unexpected code %#x", pc, in.Code)
		}
	}
	t.Fatal("program fell off its end")
	return 0
}

func TestSeccompFilterDecisions(t *testing.T) {
	const allow, eperm, enosys = unix.SECCOMP_RET_ALLOW, unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM), unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	defaults := (&Spec{}).capabilities()
	withAdmin := append(append([]int(nil), defaults...), capSysAdmin)
	for _, tc := range []struct {
		name string
		caps []int
		nr   uintptr
		arch uint32
		want uint32
		arg0 uint64
	}{
		{"getpid", defaults, unix.SYS_GETPID, unix.AUDIT_ARCH_X86_64, allow, 0},
		{"execve", defaults, unix.SYS_EXECVE, unix.AUDIT_ARCH_X86_64, allow, 0},
		{"keyctl always refused", withAdmin, unix.SYS_KEYCTL, unix.AUDIT_ARCH_X86_64, eperm, 0},
		{"open_by_handle_at always refused", withAdmin, unix.SYS_OPEN_BY_HANDLE_AT, unix.AUDIT_ARCH_X86_64, eperm, 0},
		{"mount without CAP_SYS_ADMIN", defaults, unix.SYS_MOUNT, unix.AUDIT_ARCH_X86_64, eperm, 0},
		{"mount with CAP_SYS_ADMIN", withAdmin, unix.SYS_MOUNT, unix.AUDIT_ARCH_X86_64, allow, 0},
		{"unshare without CAP_SYS_ADMIN", defaults, unix.SYS_UNSHARE, unix.AUDIT_ARCH_X86_64, eperm, 0},
		{"reboot", withAdmin, unix.SYS_REBOOT, unix.AUDIT_ARCH_X86_64, eperm, 0},
		{"the highest denied number", defaults, unix.SYS_MOVE_MOUNT, unix.AUDIT_ARCH_X86_64, eperm, 0},
		{"i386 getpid (int 0x80)", defaults, 20, unix.AUDIT_ARCH_I386, eperm, 0},
		{"x32 getpid", defaults, 0x40000000 + unix.SYS_GETPID, unix.AUDIT_ARCH_X86_64, eperm, 0},
		{"io_uring_setup", withAdmin, unix.SYS_IO_URING_SETUP, unix.AUDIT_ARCH_X86_64, eperm, 0},
		{"fork-like clone", defaults, unix.SYS_CLONE, unix.AUDIT_ARCH_X86_64, allow, uint64(unix.SIGCHLD)},
		{"thread clone", defaults, unix.SYS_CLONE, unix.AUDIT_ARCH_X86_64, allow, unix.CLONE_VM | unix.CLONE_THREAD | unix.CLONE_SIGHAND},
		{"clone a user namespace", defaults, unix.SYS_CLONE, unix.AUDIT_ARCH_X86_64, eperm, unix.CLONE_NEWUSER | uint64(unix.SIGCHLD)},
		{"clone a network namespace", defaults, unix.SYS_CLONE, unix.AUDIT_ARCH_X86_64, eperm, unix.CLONE_NEWNET},
		{"clone a namespace with CAP_SYS_ADMIN", withAdmin, unix.SYS_CLONE, unix.AUDIT_ARCH_X86_64, allow, unix.CLONE_NEWNS},
		{"clone3", defaults, unix.SYS_CLONE3, unix.AUDIT_ARCH_X86_64, enosys, 0},
		{"clone3 with CAP_SYS_ADMIN", withAdmin, unix.SYS_CLONE3, unix.AUDIT_ARCH_X86_64, allow, 0},
	} {
		if got := runFilter(t, seccompFilter(tc.caps), uint32(tc.nr), tc.arch, tc.arg0); got != tc.want {
			t.Errorf("%s: %#x, want %#x", tc.name, got, tc.want)
		}
	}
	// Every syscall number up to 500 ends in a decision.
	prog := seccompFilter(defaults)
	for nr := uint32(0); nr < 500; nr++ {
		runFilter(t, prog, nr, unix.AUDIT_ARCH_X86_64, 0)
	}
}
