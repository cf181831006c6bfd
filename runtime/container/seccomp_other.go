//go:build !amd64

package container

// RuntimeDefault's table exists for amd64 only; Validate refuses the
// profile elsewhere.
const (
	auditArch = 0
	sysClone  = 0
	sysClone3 = 0
)

var deniedSyscalls []deniedSyscall
