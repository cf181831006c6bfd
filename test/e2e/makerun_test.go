package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// repoRoot is the checkout's top directory (this package is test/e2e).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// makeRunEnv is the environment hack/run.sh runs in here: its state,
// logs and every port moved off make run's, so a user's make run and
// these tests do not meet; the binaries are the ones this test run built.
type makeRunEnv struct {
	out                 string
	port, etcd, kubelet int
	env                 []string
}

func newMakeRunEnv(t *testing.T, extra ...string) *makeRunEnv {
	e := &makeRunEnv{out: t.TempDir(), port: freePort(t), etcd: freePeerPair(t), kubelet: freePort(t)}
	e.env = append(os.Environ(),
		"SHEPHERD_OUTPUT="+e.out,
		"SHEPHERD_BIN="+binDir,
		"SHEPHERD_PORT="+strconv.Itoa(e.port),
		"SHEPHERD_ETCD_PORT="+strconv.Itoa(e.etcd),
		"SHEPHERD_KUBELET_PORT="+strconv.Itoa(e.kubelet),
		"SHEPHERD_SCHEDULER_PORT="+strconv.Itoa(freePort(t)),
		"SHEPHERD_CONTROLLER_MANAGER_PORT="+strconv.Itoa(freePort(t)),
	)
	e.env = append(e.env, extra...)
	return e
}

// freePeerPair returns a free port whose successor is free too (run.sh
// gives the embedded etcd's peers the port after its clients').
func freePeerPair(t *testing.T) int {
	for range 50 {
		p := freePort(t)
		if ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+1)); err == nil {
			ln.Close()
			return p
		}
	}
	t.Fatal("no two consecutive free ports")
	return 0
}

// make run on a machine without busybox-static: it must say what is
// missing and why it matters, and start nothing, rather than bring up a
// node whose first pod can only end in ErrImagePull.
func TestMakeRunStopsWithoutABusyboxImage(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: make run prepares the image only for the kubelet it starts as root")
	}
	for _, tc := range []struct {
		name, busybox, want string
	}{
		{"busybox-static not installed", "/nonexistent/busybox", "no such file or directory"},
		{"a dynamically linked busybox", "/bin/sh", "dynamically linked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newMakeRunEnv(t, "SHEPHERD_BUSYBOX="+tc.busybox)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, filepath.Join(repoRoot(t), "hack/run.sh"))
			cmd.Env = e.env
			out, err := cmd.CombinedOutput()
			code := -1
			if cmd.ProcessState != nil {
				code = cmd.ProcessState.ExitCode()
			}
			if code != 1 {
				t.Fatalf("hack/run.sh exited %d (%v), want 1:\n%s", code, err, out)
			}
			for _, want := range []string{
				"make run: cannot build the busybox image for the node's first pod",
				tc.want,
				"pods with --image=busybox end in ErrImagePull",
				"Install Debian's\nbusybox-static",
			} {
				if !strings.Contains(string(out), want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(string(out), "Shepherd is running") {
				t.Errorf("it says it is running:\n%s", out)
			}
			if _, err := os.Stat(filepath.Join(e.out, "logs", "apiserver.log")); err == nil {
				t.Errorf("the apiserver was started")
			}
			if _, err := os.Stat(filepath.Join(e.out, "images", "busybox.tar")); err == nil {
				t.Errorf("an image archive was left behind")
			}
			if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", e.port)); err == nil {
				c.Close()
				t.Errorf("something serves on the API port")
			}
		})
	}
}
