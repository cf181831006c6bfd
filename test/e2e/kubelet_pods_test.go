package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-lab/shepherd/apiserver/apiservertest"
	"github.com/shepherd-lab/shepherd/kubelet/kubelettest"
	"github.com/shepherd-lab/shepherd/runtime/container"
	"github.com/shepherd-lab/shepherd/runtime/image/imagetest"
)

// The real binaries — apiserver, scheduler, kubelet — as separate
// processes; kubectl runs a busybox pod, follows its logs through the
// apiserver, and the kubelet is SIGKILLed and restarted under it without
// the container noticing.
func TestKubeletRunsPodsForKubectl(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the kubelet creates namespaces, mounts and cgroups")
	}
	kubectlBin, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not installed (not on PATH)")
	}
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	port := freePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	api := start(t, binary("shepherd-apiserver"), "--data-dir", t.TempDir(), "--port", strconv.Itoa(port),
		"--etcd-listen-client-url", etcdURL, "--etcd-listen-peer-url", fmt.Sprintf("http://127.0.0.1:%d", freePort(t)))
	c := waitReady(t, api, url)
	startScheduler(t, etcdURL, "s1")
	k := &kubectlEnv{t: t, bin: kubectlBin, kubeconfig: apiservertest.Kubeconfig(t, url), client: c}

	root := t.TempDir()
	archive := filepath.Join(t.TempDir(), "busybox.tar")
	if err := imagetest.WriteDockerArchive(archive, "docker.io/library/busybox:latest", imagetest.Busybox(t)); err != nil {
		t.Fatal(err)
	}
	if out, code := kubeletCLI(t, root, "images", "import", archive); code != 0 {
		t.Fatalf("import: %s", out)
	}
	t.Cleanup(func() { kubelettest.Clean(root) })
	kubeletPort := strconv.Itoa(freePort(t))
	kubeletArgs := []string{"--etcd-servers", etcdURL, "--node-name", "e2e-node", "--node-ip", "127.0.0.1",
		"--address", "127.0.0.1", "--port", kubeletPort, "--root-dir", root, "--node-lease-duration", "8s"}
	kl := start(t, binary("shepherd-kubelet"), kubeletArgs...)
	k.ok("wait", "--for=condition=Ready", "node/e2e-node", "--timeout=60s")

	k.ok("run", "ticker", "--image=busybox", "--image-pull-policy=IfNotPresent", "--",
		"sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.3; done")
	k.ok("wait", "--for=condition=Ready", "pod/ticker", "--timeout=60s")

	// kubectl logs -f streams through the apiserver from the kubelet.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	follow := exec.CommandContext(ctx, kubectlBin, "logs", "-f", "ticker")
	follow.Env = append(os.Environ(), "KUBECONFIG="+k.kubeconfig)
	stdout, err := follow.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	var lines []string
	for sc.Scan() && len(lines) < 8 {
		lines = append(lines, sc.Text())
	}
	follow.Process.Kill()
	follow.Wait()
	if len(lines) < 8 || lines[0] != "tick 0" || lines[7] != "tick 7" {
		t.Fatalf("kubectl logs -f printed %q, want tick 0 .. tick 7 as they are written", lines)
	}
	if out := k.ok("logs", "--tail=1", "ticker"); !strings.HasPrefix(out, "tick ") || strings.Count(out, "\n") != 1 {
		t.Errorf("kubectl logs --tail=1: %q", out)
	}

	// The kubelet dies hard and comes back: same container, same process.
	before, err := c.CoreV1().Pods("default").Get(ctx, "ticker", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimPrefix(before.Status.ContainerStatuses[0].ContainerID, "shepherd://")
	pid := containerPid(t, root, id)
	kl.kill(syscall.SIGKILL)
	if syscall.Kill(pid, 0) != nil {
		t.Fatal("the container died with the kubelet")
	}
	start(t, binary("shepherd-kubelet"), kubeletArgs...)
	waitUntil(t, "the restarted kubelet serving the pod's logs", func() bool {
		out, _, code := k.run("logs", "--tail=1", "ticker")
		return code == 0 && strings.HasPrefix(out, "tick ")
	})
	after, err := c.CoreV1().Pods("default").Get(ctx, "ticker", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cs := after.Status.ContainerStatuses[0]; cs.ContainerID != before.Status.ContainerStatuses[0].ContainerID || cs.RestartCount != 0 ||
		after.Status.Phase != corev1.PodRunning || containerPid(t, root, id) != pid {
		t.Fatalf("after the kubelet restart: phase %s, %+v; want container %s (pid %d) untouched", after.Status.Phase, cs, id, pid)
	}

	// kubectl delete: the container is stopped and the pod goes.
	k.ok("delete", "pod", "ticker", "--grace-period=1", "--wait=true", "--timeout=60s")
	if syscall.Kill(pid, 0) == nil {
		t.Errorf("container process %d alive after kubectl delete returned", pid)
	}
}

func containerPid(t *testing.T, root, id string) int {
	t.Helper()
	rt, err := container.New(container.Config{Root: filepath.Join(root, "runtime")})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	st, err := rt.State(id)
	if err != nil || st.Pid == 0 {
		t.Fatalf("container %s: %v", id, err)
	}
	return st.Pid
}
