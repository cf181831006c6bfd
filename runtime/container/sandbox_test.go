package container

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// CheckSandbox tells a usable sandbox from one whose namespace mounts were
// undone (a kubelet then makes it again) and from a missing one;
// ListSandboxes lists what exists.
func TestCheckAndListSandboxes(t *testing.T) {
	r := newRuntime(t)
	sb := fmt.Sprintf("sb%d-check", os.Getpid())
	if err := r.CreateSandbox(ctxT(t), sb, "host"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.RemoveSandbox(sb) })
	if err := r.CheckSandbox(sb); err != nil {
		t.Fatalf("a new sandbox: %v", err)
	}
	if ids, err := r.ListSandboxes(); err != nil || len(ids) != 1 || ids[0] != sb {
		t.Fatalf("ListSandboxes: %v %v", ids, err)
	}
	if err := unix.Unmount(r.SandboxNamespacePath(sb, "net"), unix.MNT_DETACH); err != nil {
		t.Fatal(err)
	}
	if err := r.CheckSandbox(sb); err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("a sandbox whose net namespace mount is gone: %v, want an error other than not found", err)
	}
	if err := r.RemoveSandbox(sb); err != nil {
		t.Fatal(err)
	}
	if err := r.CheckSandbox(sb); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a removed sandbox: %v, want ErrNotFound", err)
	}
	if ids, err := r.ListSandboxes(); err != nil || len(ids) != 0 {
		t.Fatalf("ListSandboxes after removal: %v %v", ids, err)
	}
}
