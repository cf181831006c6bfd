package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shepherd-lab/shepherd/kubelet/kubelettest"
)

// readmeBlocks returns the shell blocks README.md marks as tested (a
// `<!-- tested -->` line before the fence), in order.
func readmeBlocks(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
	lines := strings.Split(string(data), "\n")
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "<!-- tested -->" {
			continue
		}
		if i+1 >= len(lines) || lines[i+1] != "```sh" {
			t.Fatalf("README.md line %d: <!-- tested --> must precede a ```sh fence", i+1)
		}
		var b []string
		for i += 2; i < len(lines) && lines[i] != "```"; i++ {
			b = append(b, lines[i])
		}
		blocks = append(blocks, strings.Join(b, "\n"))
	}
	if len(blocks) == 0 {
		t.Fatal("README.md marks no block as tested")
	}
	return blocks
}

// The README's walkthrough, run as written against the cluster make run
// starts (hack/run.sh, as root: every component, a kubelet with the
// busybox image, relative state paths), so it cannot drift from what
// works. The only changes are the ones that move it off a user's own
// make run: the kubeconfig path and the API port.
func TestREADMEWalkthrough(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the walkthrough runs pods on make run's kubelet")
	}
	if _, err := exec.LookPath("kubectl"); err != nil {
		t.Skip("kubectl is not installed (not on PATH)")
	}
	root := repoRoot(t)
	blocks := readmeBlocks(t)
	e := newMakeRunEnv(t)
	t.Cleanup(func() { kubelettest.Clean(filepath.Join(e.out, "data", "kubelet")) })

	run := exec.Command(filepath.Join(root, "hack/run.sh"))
	run.Env = e.env
	run.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := &syncBuffer{}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	run.Stdout, run.Stderr = pw, pw
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	started := make(chan struct{})
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(pr)
		once := false
		for sc.Scan() {
			fmt.Fprintln(out, sc.Text())
			if !once && strings.HasPrefix(sc.Text(), "Shepherd is running") {
				once = true
				close(started)
			}
		}
	}()
	exited := make(chan struct{})
	go func() { run.Wait(); close(exited) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		syscall.Kill(run.Process.Pid, syscall.SIGINT)
		select {
		case <-exited:
		case <-time.After(90 * time.Second):
			syscall.Kill(-run.Process.Pid, syscall.SIGKILL)
			<-exited
			t.Errorf("make run did not stop within 90 s of Ctrl-C:\n%s", out)
		}
		<-copied
	}
	t.Cleanup(stop)
	logs := func() string {
		var b strings.Builder
		for _, name := range []string{"apiserver", "scheduler", "controller-manager", "kubelet"} {
			data, _ := os.ReadFile(filepath.Join(e.out, "logs", name+".log"))
			lines := strings.Split(strings.TrimSpace(string(data)), "\n")
			if len(lines) > 40 {
				lines = lines[len(lines)-40:]
			}
			fmt.Fprintf(&b, "--- %s.log (last lines)\n%s\n", name, strings.Join(lines, "\n"))
		}
		return b.String()
	}
	select {
	case <-started:
	case <-exited:
		t.Fatalf("make run exited before the cluster ran:\n%s\n%s", out, logs())
	case <-time.After(3 * time.Minute):
		t.Fatalf("make run did not start within 3 minutes:\n%s\n%s", out, logs())
	}

	script := strings.Join(blocks, "\n")
	for old, repl := range map[string]string{
		"$PWD/_output/kubeconfig": filepath.Join(e.out, "kubeconfig"),
		"127.0.0.1:6443":          fmt.Sprintf("127.0.0.1:%d", e.port),
	} {
		script = strings.ReplaceAll(script, old, repl)
	}
	if !strings.Contains(script, filepath.Join(e.out, "kubeconfig")) {
		t.Fatal("the walkthrough no longer exports make run's kubeconfig: this test would run it against another cluster")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	sh := exec.CommandContext(ctx, "bash", "-euxo", "pipefail", "-c", script)
	sh.Dir = root
	sh.Env = append(os.Environ(), "KUBECONFIG=/dev/null") // the walkthrough's export must be what counts
	result, err := sh.CombinedOutput()
	if err != nil {
		describe := exec.Command("kubectl", "--kubeconfig", filepath.Join(e.out, "kubeconfig"), "describe", "nodes,pods")
		state, _ := describe.CombinedOutput()
		t.Fatalf("the walkthrough failed (%v):\n%s\n--- make run:\n%s\n%s\n--- kubectl describe nodes,pods:\n%s", err, result, out, logs(), state)
	}
	t.Logf("the walkthrough:\n%s", result)
	// What a reader is told to look for.
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^hello\s+1/1\s+Running`),                                    // kubectl get pods -o wide
		regexp.MustCompile(`serving web-[a-z0-9]+-[a-z0-9]+: <h1>Hello from Shepherd</h1>`), // the configMap volume, $(POD_NAME)
		regexp.MustCompile(`deployment "web" successfully rolled out`),
		regexp.MustCompile(`(?m)^deployment.apps/web\s+2/2\s+2\s+2`),
	} {
		if !want.Match(result) {
			t.Errorf("the walkthrough's output lacks %s:\n%s", want, result)
		}
	}

	stop()
	if !strings.Contains(out.String(), "stopped.") {
		t.Errorf("make run did not say it stopped:\n%s", out)
	}
	abs, _ := filepath.Abs(e.out)
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), abs+"/") {
		t.Errorf("mounts under %s remain after make run stopped", abs)
	}
}
