package container

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shepherd-lab/shepherd/runtime/logs"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates namespaces, mounts and cgroups")
	}
}

// busyboxLayer builds a one-layer root filesystem from the host's static
// busybox (Debian's busybox-static), shared by the package's tests.
func busyboxLayer(t *testing.T) string {
	t.Helper()
	requireRoot(t)
	src := "/bin/busybox"
	if _, err := os.Stat(src); err != nil {
		t.Skip("needs /bin/busybox: install Debian's busybox-static")
	}
	dir := t.TempDir()
	for _, d := range []string{"bin", "etc", "tmp", "proc", "sys", "dev", "root", "data"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(dir, "tmp"), 0o1777)
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin/busybox"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, applet := range []string{"sh", "true", "false", "sleep", "cat", "echo", "ls", "id", "hostname", "ps", "touch", "grep", "wc", "readlink", "stat", "head", "mount", "env", "pwd", "kill", "unshare", "cut", "mknod", "tr"} {
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", applet)); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nalice:x:1000:1000::/home/alice:/bin/sh\n",
		"etc/group":  "root:x:0:\nnogroup:x:65534:\nalice:x:1000:\nstaff:x:50:alice\n",
		"data/image": "from the image\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var idSeq int

func newRuntime(t *testing.T) *Runtime {
	t.Helper()
	requireRoot(t)
	// A spare monitor, as the kubelet runs it: every test goes through
	// the hand-over path, and the spare started at New serves the first.
	r, err := New(Config{Root: t.TempDir(), ShimPath: os.Args[0], SpareMonitor: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		defer r.Close()
		list, _ := r.List()
		for _, st := range list {
			r.Delete(context.Background(), st.ID, true)
		}
	})
	return r
}

func testSpec(lower string, args ...string) *Spec {
	idSeq++
	return &Spec{
		ID:      fmt.Sprintf("c%d-%d", os.Getpid(), idSeq),
		Lower:   []string{lower},
		Process: Process{Args: args},
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// runToExit runs spec and returns its exit and its output (stdout and
// stderr interleaved, as the CRI log has them).
func runToExit(t *testing.T, r *Runtime, spec *Spec) (ExitStatus, string) {
	t.Helper()
	ctx := ctxT(t)
	st, err := r.Run(ctx, spec)
	if err != nil {
		t.Fatalf("run %v: %v", spec.Process.Args, err)
	}
	ex, err := r.Wait(ctx, spec.ID)
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	var out bytes.Buffer
	if err := logs.Read(ctx, st.LogPath, logs.ReadOptions{Tail: -1}, &out, nil); err != nil {
		t.Fatalf("read log: %v", err)
	}
	return ex, out.String()
}

// fields parses "key=value" lines.
func fields(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = v
		}
	}
	return m
}
