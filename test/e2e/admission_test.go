package e2e

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// The default tolerations are set on the apiserver only, as a Kubernetes
// user sets them, and the controller-manager gets no flag for them: the
// apiserver stores them in etcd, the replicaset controller's admission
// reads them there, so when a node's kubelet is killed its Deployment
// pods are replaced on the other node within the toleration plus the
// node-monitor grace period (plus the heartbeat lease running out), not
// after Kubernetes' default 300 s.
//
// The nodes are hollow kubelets (real shepherd-kubelet processes with
// --runtime hollow), so the test needs no root.
func TestTolerationsSetOnTheAPIServerReachControllerPods(t *testing.T) {
	const (
		toleration  = 5 * time.Second
		grace       = 10 * time.Second
		leaseExpiry = 8 * time.Second
	)
	dir := t.TempDir()
	apiArgs, url := apiserverArgs(t, dir)
	apiArgs = append(apiArgs,
		"--default-unreachable-toleration-seconds", strconv.Itoa(int(toleration/time.Second)),
		"--default-not-ready-toleration-seconds", strconv.Itoa(int(toleration/time.Second)))
	api := start(t, binary("shepherd-apiserver"), apiArgs...)
	c := waitReady(t, api, url)
	etcd := apiArgs[slices.Index(apiArgs, "--etcd-listen-client-url")+1]

	start(t, binary("shepherd-scheduler"), "--etcd-servers", etcd, "--port", strconv.Itoa(freePort(t)), "--leader-elect=false")
	cm := start(t, binary("shepherd-controller-manager"), "--etcd-servers", etcd, "--port", strconv.Itoa(freePort(t)),
		"--leader-elect=false", "--node-monitor-grace-period", grace.String(), "--node-eviction-rate", "10")
	nodes := map[string]*process{}
	for i, name := range []string{"doomed", "survivor"} {
		nodes[name] = start(t, binary("shepherd-kubelet"), "--runtime", "hollow", "--etcd-servers", etcd,
			"--node-name", name, "--node-ip", fmt.Sprintf("192.0.2.%d", 30+i), "--root-dir", t.TempDir(),
			"--node-lease-duration", leaseExpiry.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	// What the apiserver stored, as a user finds it.
	waitTrue(t, 30*time.Second, "the admission settings in etcd", func() bool {
		cfg, err := c.CoreV1().ConfigMaps("kube-system").Get(ctx, "shepherd-admission", metav1.GetOptions{})
		return err == nil && cfg.Data["default-unreachable-toleration-seconds"] == "5" && cfg.Data["default-not-ready-toleration-seconds"] == "5"
	})
	waitTrue(t, 60*time.Second, "both nodes Ready", func() bool {
		list, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		ready := 0
		for _, n := range list.Items {
			for _, cond := range n.Status.Conditions {
				if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
					ready++
				}
			}
		}
		return err == nil && ready == 2
	})

	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(int32(6)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
			},
		},
	}
	if _, err := c.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	running := func() map[string]int {
		list, err := c.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return nil
		}
		by := map[string]int{}
		for _, p := range list.Items {
			if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
				by[p.Spec.NodeName]++
			}
		}
		return by
	}
	waitTrue(t, 90*time.Second, "6 pods running on both nodes", func() bool {
		r := running()
		return r["doomed"]+r["survivor"] == 6 && r["doomed"] > 0
	})
	list, err := c.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range list.Items {
		for _, key := range []string{corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable} {
			var secs *int64
			for _, tol := range p.Spec.Tolerations {
				if tol.Key == key {
					secs = tol.TolerationSeconds
				}
			}
			if secs == nil || *secs != 5 {
				t.Fatalf("pod %s (made by the replicaset controller): %s toleration %v s, want the apiserver's 5", p.Name, key, secs)
			}
		}
	}

	nodes["doomed"].kill(syscall.SIGKILL)
	killed := time.Now()
	// The bound is what the settings promise (lease expiry, grace,
	// toleration) with room for a loaded machine; Kubernetes' default
	// toleration alone would take 300 s.
	bound := leaseExpiry + grace + toleration + 45*time.Second
	waitTrue(t, bound, "the doomed node's pods replaced on the survivor", func() bool {
		r := running()
		return r["survivor"] == 6 && r["doomed"] == 0
	})
	t.Logf("pods replaced %v after the kubelet was killed (lease %v + grace %v + toleration %v)",
		time.Since(killed).Round(time.Second), leaseExpiry, grace, toleration)
	if done, _ := cm.exited(); done {
		t.Fatalf("the controller-manager exited:\n%s", cm.out)
	}
}

// The controller-manager's former toleration flags still parse, and say
// they do nothing and where the setting lives now.
func TestControllerManagerTolerationFlagsAreDeprecated(t *testing.T) {
	cm := start(t, binary("shepherd-controller-manager"), "--etcd-servers", "http://127.0.0.1:1",
		"--port", strconv.Itoa(freePort(t)), "--default-unreachable-toleration-seconds", "5")
	waitTrue(t, 30*time.Second, "the deprecation warning", func() bool {
		return strings.Contains(cm.out.String(), "--default-unreachable-toleration-seconds has been deprecated, it has no effect: set --default-unreachable-toleration-seconds on shepherd-apiserver")
	})
}

func waitTrue(t *testing.T, timeout time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
