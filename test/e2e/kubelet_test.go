package e2e

import (
	"fmt"
	"strconv"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A hollow kubelet process registers its nodes, which the scheduler uses
// and whose pods run; when it is SIGKILLed, its heartbeat leases expire by
// themselves (etcd leases, 4 s here) and the Nodes stay.
func TestHollowKubeletKilled(t *testing.T) {
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	port := freePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	api := start(t, binary("shepherd-apiserver"), "--data-dir", t.TempDir(), "--port", strconv.Itoa(port),
		"--etcd-listen-client-url", etcdURL, "--etcd-listen-peer-url", fmt.Sprintf("http://127.0.0.1:%d", freePort(t)))
	c := waitReady(t, api, url)
	startScheduler(t, etcdURL, "s1")
	kl := start(t, binary("shepherd-kubelet"), "--etcd-servers", etcdURL, "--runtime", "hollow",
		"--hollow-nodes", "2", "--node-name", "hollow", "--node-lease-duration", "4s", "--root-dir", t.TempDir())
	ctx := ctxFor(t)
	leases := c.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	waitUntil(t, "two Ready hollow nodes with leases", func() bool {
		for _, n := range []string{"hollow-0", "hollow-1"} {
			if _, err := leases.Get(ctx, n, metav1.GetOptions{}); err != nil {
				return false
			}
		}
		nodes, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		return err == nil && len(nodes.Items) == 2
	})
	if _, err := c.CoreV1().Pods("default").Create(ctx, testPod("p"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the pod Running on a hollow node", func() bool {
		p, err := c.CoreV1().Pods("default").Get(ctx, "p", metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning && p.Spec.NodeName != ""
	})
	kl.kill(syscall.SIGKILL)
	waitUntil(t, "both leases expired", func() bool {
		for _, n := range []string{"hollow-0", "hollow-1"} {
			if _, err := leases.Get(ctx, n, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				return false
			}
		}
		return true
	})
	if nodes, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err != nil || len(nodes.Items) != 2 {
		t.Fatalf("nodes after the kubelet died: %v, %v", nodes, err)
	}
}
