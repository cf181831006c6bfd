package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shepherd-lab/shepherd/runtime/image/imagetest"
)

// kubeletCLI runs `shepherd-kubelet --root-dir root <args>` and returns
// its combined output and exit code.
func kubeletCLI(t *testing.T, root string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(binary("shepherd-kubelet"), append([]string{"--root-dir", root}, args...)...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("shepherd-kubelet %v: %v", args, err)
	}
	return string(out), code
}

// The runtime's debugging commands, each a separate process over one
// --root-dir: every command after `run -d` finds the container through
// the state on disk, as a restarted kubelet would.
func TestRuntimeCLI(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the runtime creates namespaces and mounts")
	}
	img := imagetest.Busybox(t)
	root := t.TempDir()
	archive := filepath.Join(t.TempDir(), "busybox.tar")
	if err := imagetest.WriteDockerArchive(archive, "docker.io/library/busybox:latest", img); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kubeletCLI(t, root, "rm", "-f", "web", "pulled") })

	must := func(wantCode int, args ...string) string {
		t.Helper()
		out, code := kubeletCLI(t, root, args...)
		if code != wantCode {
			t.Fatalf("shepherd-kubelet %s: exit %d, want %d:\n%s", strings.Join(args, " "), code, wantCode, out)
		}
		return out
	}
	if out := must(0, "images", "import", archive); !strings.Contains(out, "docker.io/library/busybox:latest") {
		t.Fatalf("import printed %q", out)
	}
	if out := must(0, "images", "list"); !strings.Contains(out, "docker.io/library/busybox:latest") {
		t.Fatalf("images list:\n%s", out)
	}
	if out := must(0, "run", "--rm", "--hostname", "demo", "busybox", "sh", "-c", "echo hello from $(hostname)"); out != "hello from demo\n" {
		t.Fatalf("run printed %q", out)
	}
	must(3, "run", "--rm", "busybox", "sh", "-c", "exit 3")
	if out := must(0, "ps", "-a", "-q"); strings.TrimSpace(out) != "" {
		t.Fatalf("--rm left containers: %q", out)
	}

	must(0, "run", "-d", "--name", "web", "busybox", "sh", "-c", "echo serving; sleep 1000")
	if out := must(0, "ps"); !strings.Contains(out, "web") || !strings.Contains(out, "Up ") {
		t.Fatalf("ps:\n%s", out)
	}
	waitFor(t, 10*time.Second, func() bool {
		out, _ := kubeletCLI(t, root, "logs", "web")
		return out == "serving\n"
	})
	if out := must(0, "logs", "--timestamps", "web"); !strings.HasSuffix(out, " serving\n") || !strings.HasPrefix(out, fmt.Sprint(time.Now().Year())) {
		t.Fatalf("logs --timestamps: %q", out)
	}
	if out, code := kubeletCLI(t, root, "rm", "web"); code == 0 || !strings.Contains(out, "running") {
		t.Fatalf("rm of a running container: exit %d, %q", code, out)
	}
	// An image in use cannot be removed from under its container.
	if out, code := kubeletCLI(t, root, "images", "rm", "busybox"); code == 0 || !strings.Contains(out, "used by container web") {
		t.Fatalf("images rm of a running container's image: exit %d, %q", code, out)
	}
	must(0, "stop", "-t", "1", "web")
	if out := must(0, "ps", "-a"); !strings.Contains(out, "Exited (137)") {
		t.Fatalf("after stop (sleep as PID 1 ignores SIGTERM, so SIGKILL):\n%s", out)
	}
	must(0, "rm", "web")
	if out := must(0, "ps", "-a", "-q"); strings.TrimSpace(out) != "" {
		t.Fatalf("rm left %q", out)
	}

	// Pull from a registry (in-process, plain HTTP, so it must be listed
	// as insecure), then run what was pulled.
	host := imagetest.Registry(t)
	ref := imagetest.Push(t, host, "tools/busybox:1.0", img)
	if out, code := kubeletCLI(t, root, "images", "pull", ref); code == 0 {
		t.Fatalf("a plain-HTTP pull without --insecure-registry succeeded: %s", out)
	}
	must(0, "images", "pull", "--insecure-registry", host, ref)
	if out := must(0, "run", "--rm", "--name", "pulled", "--pull", "never", ref, "echo", "pulled"); out != "pulled\n" {
		t.Fatalf("run of the pulled image: %q", out)
	}
	must(0, "images", "rm", ref, "docker.io/library/busybox:latest")
	// Removing its last name removed the image; its one layer is left
	// for gc.
	if out := must(0, "images", "gc"); !strings.Contains(out, "1 layers") {
		t.Fatalf("gc: %s", out)
	}
	if entries, _ := os.ReadDir(filepath.Join(root, "images/layers/sha256")); len(entries) != 0 {
		t.Fatalf("layers left after gc: %v", entries)
	}
	if out := must(0, "images", "list"); strings.Contains(out, "busybox") {
		t.Fatalf("images left after rm and gc:\n%s", out)
	}
	if _, code := kubeletCLI(t, root, "run", "--pull", "never", "busybox", "true"); code == 0 {
		t.Fatal("run of a removed image with --pull never succeeded")
	}
}

func waitFor(t *testing.T, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
