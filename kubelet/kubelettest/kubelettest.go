// Package kubelettest helps tests that run a real kubelet.
package kubelettest

import (
	"context"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/shepherd-lab/shepherd/internal/mountinfo"
	"github.com/shepherd-lab/shepherd/runtime/container"
)

// Clean removes what a kubelet with this --root-dir left behind: it leaves
// its pods running when it stops (a restarted kubelet adopts them), so a
// test ending with pods still there deletes their containers and
// sandboxes, then unmounts their volumes, deepest first.
func Clean(root string) {
	rt, err := container.New(container.Config{Root: filepath.Join(root, "runtime")})
	if err == nil {
		list, _ := rt.List()
		for _, st := range list {
			rt.Delete(context.Background(), st.ID, true)
		}
		ids, _ := rt.ListSandboxes()
		for _, id := range ids {
			rt.RemoveSandbox(id)
		}
		rt.Close()
	}
	mounts, _ := mountinfo.Read("/proc/self/mountinfo")
	for i := len(mounts) - 1; i >= 0; i-- {
		if strings.HasPrefix(mounts[i].Point, root+"/") {
			unix.Unmount(mounts[i].Point, unix.MNT_DETACH)
		}
	}
}
