//go:build amd64

package container

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

// runFilter interprets the classic BPF subset seccompFilter emits, over a
// seccomp_data of (nr, arch).
func runFilter(t *testing.T, prog []unix.SockFilter, nr, arch uint32) uint32 {
	t.Helper()
	var data [16]byte
	binary.LittleEndian.PutUint32(data[0:], nr)
	binary.LittleEndian.PutUint32(data[4:], arch)
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
	const allow, eperm = unix.SECCOMP_RET_ALLOW, unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	defaults := (&Spec{}).capabilities()
	withAdmin := append(append([]int(nil), defaults...), capSysAdmin)
	for _, tc := range []struct {
		name string
		caps []int
		nr   uintptr
		arch uint32
		want uint32
	}{
		{"getpid", defaults, unix.SYS_GETPID, unix.AUDIT_ARCH_X86_64, allow},
		{"execve", defaults, unix.SYS_EXECVE, unix.AUDIT_ARCH_X86_64, allow},
		{"keyctl always refused", withAdmin, unix.SYS_KEYCTL, unix.AUDIT_ARCH_X86_64, eperm},
		{"open_by_handle_at always refused", withAdmin, unix.SYS_OPEN_BY_HANDLE_AT, unix.AUDIT_ARCH_X86_64, eperm},
		{"mount without CAP_SYS_ADMIN", defaults, unix.SYS_MOUNT, unix.AUDIT_ARCH_X86_64, eperm},
		{"mount with CAP_SYS_ADMIN", withAdmin, unix.SYS_MOUNT, unix.AUDIT_ARCH_X86_64, allow},
		{"unshare without CAP_SYS_ADMIN", defaults, unix.SYS_UNSHARE, unix.AUDIT_ARCH_X86_64, eperm},
		{"reboot", withAdmin, unix.SYS_REBOOT, unix.AUDIT_ARCH_X86_64, eperm},
		{"the highest denied number", defaults, unix.SYS_MOVE_MOUNT, unix.AUDIT_ARCH_X86_64, eperm},
		{"i386 getpid (int 0x80)", defaults, 20, unix.AUDIT_ARCH_I386, eperm},
		{"x32 getpid", defaults, 0x40000000 + unix.SYS_GETPID, unix.AUDIT_ARCH_X86_64, eperm},
	} {
		if got := runFilter(t, seccompFilter(tc.caps), uint32(tc.nr), tc.arch); got != tc.want {
			t.Errorf("%s: %#x, want %#x", tc.name, got, tc.want)
		}
	}
	// Every syscall number up to 500 ends in a decision.
	prog := seccompFilter(defaults)
	for nr := uint32(0); nr < 500; nr++ {
		runFilter(t, prog, nr, unix.AUDIT_ARCH_X86_64)
	}
}
