package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/shepherd-lab/shepherd/apiserver/apiservertest"
	"github.com/shepherd-lab/shepherd/kubelet/kubelettest"
	"github.com/shepherd-lab/shepherd/runtime/image/imagetest"
)

// cluster is the four real binaries as processes on this host.
type cluster struct {
	t                    *testing.T
	k                    *kubectlEnv
	c                    kubernetes.Interface
	apiArgs, schedArgs   []string
	cmArgs, kubeletArgs  []string
	url, root            string
	api, sched, cm, node *process
}

func startCluster(t *testing.T) *cluster {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the kubelet creates namespaces, mounts and cgroups")
	}
	kubectlBin, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not installed (not on PATH)")
	}
	cl := &cluster{t: t, root: t.TempDir()}
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	port := freePort(t)
	cl.url = fmt.Sprintf("http://127.0.0.1:%d", port)
	cl.apiArgs = []string{"--data-dir", t.TempDir(), "--port", strconv.Itoa(port),
		"--etcd-listen-client-url", etcdURL, "--etcd-listen-peer-url", fmt.Sprintf("http://127.0.0.1:%d", freePort(t))}
	cl.schedArgs = []string{"--etcd-servers", etcdURL, "--port", strconv.Itoa(freePort(t)), "--leader-elect-lease-duration", "3s"}
	cl.cmArgs = []string{"--etcd-servers", etcdURL, "--port", strconv.Itoa(freePort(t)), "--leader-elect-lease-duration", "3s",
		"--node-monitor-grace-period", "40s"}
	cl.kubeletArgs = []string{"--etcd-servers", etcdURL, "--node-name", "node-1", "--node-ip", "127.0.0.1",
		"--address", "127.0.0.1", "--port", strconv.Itoa(freePort(t)), "--root-dir", cl.root, "--node-lease-duration", "8s"}

	archive := filepath.Join(t.TempDir(), "busybox.tar")
	if err := imagetest.WriteDockerArchive(archive, "docker.io/library/busybox:latest", imagetest.Busybox(t)); err != nil {
		t.Fatal(err)
	}
	if out, code := kubeletCLI(t, cl.root, "images", "import", archive); code != 0 {
		t.Fatalf("import: %s", out)
	}
	t.Cleanup(func() { kubelettest.Clean(cl.root) })

	cl.api = start(t, binary("shepherd-apiserver"), cl.apiArgs...)
	cl.c = waitReady(t, cl.api, cl.url)
	cl.sched = start(t, binary("shepherd-scheduler"), cl.schedArgs...)
	cl.cm = start(t, binary("shepherd-controller-manager"), cl.cmArgs...)
	cl.node = start(t, binary("shepherd-kubelet"), cl.kubeletArgs...)
	cl.k = &kubectlEnv{t: t, bin: kubectlBin, kubeconfig: apiservertest.Kubeconfig(t, cl.url), client: cl.c}
	cl.k.ok("wait", "--for=condition=Ready", "node/node-1", "--timeout=50s")
	return cl
}

// restart SIGKILLs one component and starts it again with the same flags.
func (cl *cluster) restart(which string) {
	cl.t.Helper()
	switch which {
	case "apiserver":
		cl.api.kill(syscall.SIGKILL)
		// Down for longer than the leaders' renew deadline (etcd is embedded
		// in it): the scheduler and controller-manager lose leadership and
		// exit, and come back through supervise, as under systemd.
		time.Sleep(4 * time.Second)
		cl.api = start(cl.t, binary("shepherd-apiserver"), cl.apiArgs...)
		cl.c = waitReady(cl.t, cl.api, cl.url)
		cl.k.client = cl.c
	case "scheduler":
		cl.sched.kill(syscall.SIGKILL)
		cl.sched = start(cl.t, binary("shepherd-scheduler"), cl.schedArgs...)
	case "controller-manager":
		cl.cm.kill(syscall.SIGKILL)
		cl.cm = start(cl.t, binary("shepherd-controller-manager"), cl.cmArgs...)
	case "kubelet":
		cl.node.kill(syscall.SIGKILL)
		cl.node = start(cl.t, binary("shepherd-kubelet"), cl.kubeletArgs...)
	}
}

const deploymentYAML = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: %d
  selector:
    matchLabels: {app: web}
  strategy:
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: busybox
        imagePullPolicy: IfNotPresent
        command: ["sh", "-c", "echo %s; sleep 3600"]
`

func (cl *cluster) apply(replicas int, version string) {
	cl.t.Helper()
	f := filepath.Join(cl.t.TempDir(), "web.yaml")
	if err := os.WriteFile(f, []byte(fmt.Sprintf(deploymentYAML, replicas, version)), 0o644); err != nil {
		cl.t.Fatal(err)
	}
	cl.k.ok("apply", "-f", f)
}

// webPods are the live (not terminating) pods of the deployment.
func (cl *cluster) webPods(ctx context.Context) []corev1.Pod {
	list, err := cl.c.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		return nil
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}

// supervise restarts the scheduler, controller-manager or kubelet if it
// has exited, as systemd's Restart=always does in a lab: a leader that
// cannot renew its lease (etcd, embedded in the apiserver, is down while
// the apiserver restarts) exits by design so a restart stands by.
func (cl *cluster) supervise() {
	for _, c := range []struct {
		p    **process
		bin  string
		args []string
	}{{&cl.sched, "shepherd-scheduler", cl.schedArgs}, {&cl.cm, "shepherd-controller-manager", cl.cmArgs}, {&cl.node, "shepherd-kubelet", cl.kubeletArgs}} {
		if done, code := (*c.p).exited(); done {
			cl.t.Logf("%s exited (%d); restarting it", c.bin, code)
			*c.p = start(cl.t, binary(c.bin), c.args...)
		}
	}
}

// settled: exactly n pods, all Running and ready, none terminating, and
// the deployment reports them.
func (cl *cluster) settled(ctx context.Context, n int) bool {
	cl.supervise()
	list, err := cl.c.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil || len(list.Items) != n {
		return false
	}
	for _, p := range list.Items {
		if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning || !podReady(&p) {
			return false
		}
	}
	d, err := cl.c.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
	return err == nil && d.Status.ReadyReplicas == int32(n) && d.Status.UpdatedReplicas == int32(n) && d.Status.ObservedGeneration == d.Generation
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// The four real binaries as processes: a Deployment of busybox reaches
// its replicas, rolls out a new command, survives each component being
// SIGKILLed and restarted while it scales (nothing acknowledged lost, no
// duplicate pods, running containers untouched by a kubelet restart), and
// kubectl delete cleans up.
func TestWholeCluster(t *testing.T) {
	cl := startCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	cl.apply(3, "v1")
	cl.k.ok("rollout", "status", "deployment/web", "--timeout=50s")
	waitUntil(t, "3 Running web pods", func() bool { return cl.settled(ctx, 3) })

	// A rollout to a new command.
	cl.apply(3, "v2")
	cl.k.ok("rollout", "status", "deployment/web", "--timeout=50s")
	waitUntil(t, "3 Running v2 pods", func() bool { return cl.settled(ctx, 3) })
	for _, p := range cl.webPods(ctx) {
		if out := cl.k.ok("logs", p.Name); out != "v2\n" {
			t.Fatalf("pod %s after the rollout logs %q, want v2", p.Name, out)
		}
	}
	// Pods the controllers create get the tolerations the apiserver's
	// DefaultTolerationSeconds admission gives pods created through it.
	for _, p := range cl.webPods(ctx) {
		var found bool
		for _, tol := range p.Spec.Tolerations {
			found = found || tol.Key == corev1.TaintNodeUnreachable && tol.TolerationSeconds != nil && *tol.TolerationSeconds == 300
		}
		if !found {
			t.Errorf("pod %s has no default unreachable toleration: %+v", p.Name, p.Spec.Tolerations)
		}
	}
	if out := cl.k.ok("rollout", "history", "deployment/web"); !regexp.MustCompile(`(?m)^1\s`).MatchString(out) || !regexp.MustCompile(`(?m)^2\s`).MatchString(out) {
		t.Errorf("rollout history lists no revisions 1 and 2:\n%s", out)
	}

	// Each component killed and restarted while the deployment scales.
	var acked []string
	replicas := map[string]int{"apiserver": 4, "scheduler": 2, "controller-manager": 4, "kubelet": 3}
	for _, which := range []string{"apiserver", "scheduler", "controller-manager", "kubelet"} {
		name := "acked-before-" + which
		if _, err := cl.c.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		acked = append(acked, name)
		pids := cl.containerPids(ctx)
		cl.k.ok("scale", "deployment/web", "--replicas="+strconv.Itoa(replicas[which]))
		cl.restart(which)
		n := replicas[which]
		waitUntil(t, fmt.Sprintf("%d Running pods after %s restarted", n, which), func() bool { return cl.settled(ctx, n) })
		if which == "kubelet" {
			// Scaling 4 -> 3 removed one pod; the others' containers ran on.
			after := cl.containerPids(ctx)
			kept := 0
			for pod, pid := range after {
				if pids[pod] == pid {
					kept++
				}
			}
			if kept != len(after) {
				t.Errorf("after the kubelet restart, %d of %d containers are the same processes (before %v, after %v)", kept, len(after), pids, after)
			}
		}
	}
	for _, name := range acked {
		if _, err := cl.c.CoreV1().ConfigMaps("default").Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("acknowledged configmap %s: %v", name, err)
		}
	}
	names := map[string]bool{}
	for _, p := range cl.webPods(ctx) {
		if names[p.Name] {
			t.Errorf("pod %s twice", p.Name)
		}
		names[p.Name] = true
	}

	// kubectl delete: the deployment, its replicasets and pods go.
	cl.k.ok("delete", "deployment", "web", "--timeout=50s")
	waitUntil(t, "the deployment's pods and replicasets gone", func() bool {
		rs, err := cl.c.AppsV1().ReplicaSets("default").List(ctx, metav1.ListOptions{})
		pods, perr := cl.c.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		return err == nil && perr == nil && len(rs.Items) == 0 && len(pods.Items) == 0
	})
}

// containerPids maps each web pod to its container's host pid.
func (cl *cluster) containerPids(ctx context.Context) map[string]int {
	out := map[string]int{}
	pods := cl.webPods(ctx)
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	for _, p := range pods {
		if len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Running != nil {
			out[p.Name] = containerPid(cl.t, cl.root, strings.TrimPrefix(p.Status.ContainerStatuses[0].ContainerID, "shepherd://"))
		}
	}
	return out
}
