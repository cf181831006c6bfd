package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shepherd-lab/shepherd/runtime/image/imagetest"
)

// `shepherd-kubelet exec` runs a command in a container started by an
// earlier `run -d` (a separate process: the container is found on disk),
// prints its stdout and stderr apart and exits with its code.
func TestRuntimeCLIExec(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the runtime creates namespaces and mounts")
	}
	img := imagetest.Busybox(t)
	root := t.TempDir()
	archive := filepath.Join(t.TempDir(), "busybox.tar")
	if err := imagetest.WriteDockerArchive(archive, "docker.io/library/busybox:latest", img); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kubeletCLI(t, root, "rm", "-f", "box") })
	must := func(wantCode int, args ...string) string {
		t.Helper()
		out, code := kubeletCLI(t, root, args...)
		if code != wantCode {
			t.Fatalf("shepherd-kubelet %s: exit %d, want %d:\n%s", strings.Join(args, " "), code, wantCode, out)
		}
		return out
	}
	must(0, "images", "import", archive)
	must(0, "run", "-d", "--name", "box", "--hostname", "boxhost", "busybox",
		"sh", "-c", "echo from-the-container > /tmp/c; echo ready; exec sleep 1000")
	waitFor(t, 10*time.Second, func() bool {
		out, _ := kubeletCLI(t, root, "logs", "box")
		return out == "ready\n"
	})

	if out := must(0, "exec", "box", "--", "sh", "-c", "echo $(hostname) $(cat /tmp/c) $(cat /proc/1/cmdline | tr '\\0' ' ')"); out != "boxhost from-the-container sleep 1000\n" {
		t.Fatalf("exec printed %q", out)
	}
	if out := must(0, "exec", "-u", "nobody", "-e", "GREETING=hi", "-w", "/tmp", "box", "sh", "-c", "echo $(id -u) $GREETING $(pwd)"); out != "65534 hi /tmp\n" {
		t.Fatalf("exec with user, env and workdir printed %q", out)
	}
	must(3, "exec", "box", "--", "sh", "-c", "exit 3")

	// stdout and stderr stay apart.
	cmd := exec.Command(binary("shepherd-kubelet"), "--root-dir", root, "exec", "box", "--", "sh", "-c", "echo out; echo err >&2")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || stdout.String() != "out\n" || stderr.String() != "err\n" {
		t.Fatalf("exec: %v, stdout %q, stderr %q", err, stdout.String(), stderr.String())
	}

	// Ctrl-C (SIGINT) kills the command and returns.
	cmd = exec.Command(binary("shepherd-kubelet"), "--root-dir", root, "exec", "box", "--", "sh", "-c", "echo started; sleep 100")
	started := make(chan struct{})
	var once sync.Once
	cmd.Stdout = writerFunc(func(b []byte) (int, error) {
		if strings.Contains(string(b), "started") {
			once.Do(func() { close(started) })
		}
		return len(b), nil
	})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("exec never started its command")
	}
	begin := time.Now()
	cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err == nil {
		t.Fatal("an interrupted exec exited 0")
	}
	if d := time.Since(begin); d > 5*time.Second {
		t.Errorf("exec took %v to return after SIGINT", d)
	}
	if out := must(0, "exec", "box", "--", "ps", "-o", "args"); strings.Contains(out, "sleep 100\n") {
		t.Fatalf("the interrupted command is still running:\n%s", out)
	}

	if out, code := kubeletCLI(t, root, "exec", "box", "--", "no-such-command"); code == 0 || !strings.Contains(out, "executable file not found") {
		t.Fatalf("exec of a missing command: exit %d, %q", code, out)
	}
	if out, code := kubeletCLI(t, root, "exec", "nobox", "--", "true"); code == 0 || !strings.Contains(out, "not found") {
		t.Fatalf("exec into an unknown container: exit %d, %q", code, out)
	}
	must(0, "stop", "-t", "1", "box")
	if out, code := kubeletCLI(t, root, "exec", "box", "--", "true"); code == 0 || !strings.Contains(out, "not running") {
		t.Fatalf("exec into a stopped container: exit %d, %q", code, out)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }
