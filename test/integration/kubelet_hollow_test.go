package integration

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-lab/shepherd/admission/admissiontest"
	"github.com/shepherd-lab/shepherd/apiserver/apiservertest"
	"github.com/shepherd-lab/shepherd/internal/testlog"
	"github.com/shepherd-lab/shepherd/kubelet"
	"github.com/shepherd-lab/shepherd/scheduler"
)

// Hollow kubelets register nodes the scheduler uses; pods bound to them
// become Running with every container ready, and a deleted pod is gone
// once its kubelet has seen the deletion.
func TestHollowKubelets(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	core := srv.Client.CoreV1()
	kctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	t.Cleanup(func() { stop(); wg.Wait() })
	for i := 0; i < 3; i++ {
		cfg := kubelet.NodeConfig{Store: srv.Store, Admission: admissiontest.Follow(t, srv.Store), Name: fmt.Sprintf("hollow-%d", i), NodeIP: fmt.Sprintf("192.0.2.%d", 10+i), RootDir: t.TempDir(), Version: "test", Log: testlog.New(t)}
		wg.Add(1)
		go func() { defer wg.Done(); kubelet.RunHollowNode(kctx, cfg) }()
	}
	opts := scheduler.DefaultOptions()
	opts.LeaderElect = false
	runScheduler(t, srv, opts)

	for i := 0; i < 6; i++ {
		if _, err := core.Pods("default").Create(ctx, newPod(fmt.Sprintf("h%d", i), nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, 30*time.Second, func() bool {
		list, err := core.Pods("default").List(ctx, metav1.ListOptions{})
		if err != nil || len(list.Items) != 6 {
			return false
		}
		for _, p := range list.Items {
			if p.Status.Phase != corev1.PodRunning {
				return false
			}
		}
		return true
	})
	p, _ := core.Pods("default").Get(ctx, "h0", metav1.GetOptions{})
	var ready bool
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			ready = true
		}
	}
	if !ready || p.Status.PodIP == "" || p.Status.HostIP == "" || p.Status.StartTime == nil ||
		len(p.Status.ContainerStatuses) != len(p.Spec.Containers) || p.Status.ContainerStatuses[0].State.Running == nil {
		t.Fatalf("status of a running hollow pod: %+v", p.Status)
	}
	if want := map[string]string{"hollow-0": "192.0.2.10", "hollow-1": "192.0.2.11", "hollow-2": "192.0.2.12"}[p.Spec.NodeName]; p.Status.HostIP != want {
		t.Errorf("hostIP %q on node %s, want %q", p.Status.HostIP, p.Spec.NodeName, want)
	}
	// A graceful delete: the apiserver marks the pod, its kubelet removes it.
	if err := core.Pods("default").Delete(ctx, "h0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, func() bool {
		_, err := core.Pods("default").Get(ctx, "h0", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
	nodes, err := core.Nodes().List(ctx, metav1.ListOptions{})
	if err != nil || len(nodes.Items) != 3 {
		t.Fatalf("nodes: %v %v", nodes, err)
	}
}
