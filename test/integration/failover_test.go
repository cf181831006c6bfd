package integration

import (
	"context"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/shepherd-lab/shepherd/apiserver"
	"github.com/shepherd-lab/shepherd/apiserver/apiservertest"
	"github.com/shepherd-lab/shepherd/controller/manager"
	"github.com/shepherd-lab/shepherd/internal/testlog"
	"github.com/shepherd-lab/shepherd/scheduler"
)

// runManager runs every controller through the manager, as
// shepherd-controller-manager does, until the test ends.
func runManager(t *testing.T, srv *apiservertest.Server, mutate func(*manager.Options)) *manager.Manager {
	t.Helper()
	o := manager.DefaultOptions()
	o.Store, o.Log, o.LeaderElect = srv.Store, testlog.New(t), true
	o.LeaseDuration = 2 * time.Second
	if mutate != nil {
		mutate(&o)
	}
	m, err := manager.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := m.Run(ctx); err != nil {
			t.Errorf("manager: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return m
}

// A node whose kubelet dies: its lease expires, the node lifecycle
// controller taints it unreachable, the pods' (short) default toleration
// runs out, they are evicted, and the Deployment's ReplicaSet recreates
// them on the node that is alive. The toleration is set on the apiserver
// only, as in Kubernetes: the replicaset controller admits its pods with
// the setting the apiserver stored.
func TestDeadNodesPodsRecreatedElsewhere(t *testing.T) {
	srv := apiservertest.Start(t, func(o *apiserver.Options) { o.Admission.DefaultUnreachableTolerationSeconds = 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stopA := hollowNode(t, srv, "node-a", "192.0.2.1")
	hollowNode(t, srv, "node-b", "192.0.2.2")
	m := runManager(t, srv, func(o *manager.Options) {
		o.NodeMonitorGracePeriod = 6 * time.Second
		o.NodeEvictionRate = 10
	})
	opts := scheduler.DefaultOptions()
	opts.LeaderElect = false
	runScheduler(t, srv, opts)
	waitUntil(t, 30*time.Second, func() bool { return len(m.Running()) == len(manager.Names) })

	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(int32(4)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
			},
		},
	}
	if _, err := srv.Client.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	running := func() map[string]int {
		list, err := srv.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
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
	waitUntil(t, 60*time.Second, func() bool { r := running(); return r["node-a"]+r["node-b"] == 4 && r["node-a"] > 0 })
	list, _ := srv.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	for _, p := range list.Items {
		var tol *corev1.Toleration
		for i := range p.Spec.Tolerations {
			if p.Spec.Tolerations[i].Key == corev1.TaintNodeUnreachable {
				tol = &p.Spec.Tolerations[i]
			}
		}
		if tol == nil || tol.TolerationSeconds == nil || *tol.TolerationSeconds != 1 {
			t.Fatalf("pod %s created by the replicaset controller: unreachable toleration %+v, want the apiserver's setting (1 s)", p.Name, tol)
		}
	}

	stopA()
	// All four end up Running on node-b; node-a's are marked deleted.
	waitUntil(t, 90*time.Second, func() bool { r := running(); return r["node-b"] == 4 && r["node-a"] == 0 })
	n, err := srv.Client.CoreV1().Nodes().Get(ctx, "node-a", metav1.GetOptions{})
	if err != nil || hasTaint(n, corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute) == nil || nodeCondition(n, corev1.NodeReady).Status != corev1.ConditionUnknown {
		t.Fatalf("node-a after its kubelet died: %v %+v", err, n)
	}
	waitUntil(t, 30*time.Second, func() bool {
		dep, err := srv.Client.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
		return err == nil && dep.Status.AvailableReplicas == 4
	})
}
