package integration

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/shepherd-lab/shepherd/admission/admissiontest"
	"github.com/shepherd-lab/shepherd/apiserver/apiservertest"
	"github.com/shepherd-lab/shepherd/controller"
	"github.com/shepherd-lab/shepherd/controller/nodelifecycle"
	"github.com/shepherd-lab/shepherd/events"
	"github.com/shepherd-lab/shepherd/internal/testlog"
	"github.com/shepherd-lab/shepherd/kubelet"
)

// runNodeLifecycle runs the node lifecycle controller against srv until
// the test ends; reg holds its metrics.
func runNodeLifecycle(t *testing.T, srv *apiservertest.Server, opts nodelifecycle.Options) (reg *prometheus.Registry) {
	t.Helper()
	log := testlog.New(t)
	reg = prometheus.NewRegistry()
	adm := admissiontest.Follow(t, srv.Store)
	c := &controller.Context{
		Store: srv.Store, Informers: controller.NewInformers(srv.Store, log),
		Events: events.NewRecorder(srv.Store, adm, "controller-manager", 0, log), Log: log,
		QueueMetrics: controller.NewQueueMetrics(reg), Registry: reg, Admission: adm,
	}
	nc := nodelifecycle.New(c, opts)
	ctx, cancel := context.WithCancel(context.Background())
	c.Informers.Start(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); c.Events.Run(ctx) }()
	go func() { defer wg.Done(); nc.Run(ctx, 2) }()
	t.Cleanup(func() { cancel(); wg.Wait(); c.Informers.Wait() })
	return reg
}

// hollowNode runs a hollow kubelet with the shortest heartbeat lease until
// the returned stop is called (or the test ends).
func hollowNode(t *testing.T, srv *apiservertest.Server, name, ip string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	cfg := kubelet.NodeConfig{Store: srv.Store, Admission: admissiontest.Follow(t, srv.Store), Name: name, NodeIP: ip, RootDir: t.TempDir(), Version: "test",
		LeaseDuration: 4 * time.Second, Log: testlog.New(t)}
	go func() {
		defer close(done)
		if err := kubelet.RunHollowNode(ctx, cfg); err != nil && ctx.Err() == nil {
			t.Errorf("hollow node %s: %v", name, err)
		}
	}()
	stop = sync.OnceFunc(func() { cancel(); <-done })
	t.Cleanup(stop)
	return stop
}

func nodeCondition(n *corev1.Node, typ corev1.NodeConditionType) corev1.NodeCondition {
	for _, c := range n.Status.Conditions {
		if c.Type == typ {
			return c
		}
	}
	return corev1.NodeCondition{}
}

func hasTaint(n *corev1.Node, key string, effect corev1.TaintEffect) *corev1.Taint {
	for i, t := range n.Spec.Taints {
		if t.Key == key && t.Effect == effect {
			return &n.Spec.Taints[i]
		}
	}
	return nil
}

// podOn is a pod bound to node tolerating the unreachable taint for
// seconds (nil: forever).
func podOn(name, node string, seconds *int64) *corev1.Pod {
	p := newPod(name, nil)
	p.Spec.NodeName = node
	p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](30)
	p.Spec.Tolerations = []corev1.Toleration{{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists,
		Effect: corev1.TaintEffectNoExecute, TolerationSeconds: seconds}}
	return p
}

// A node whose kubelet dies goes Unknown and is tainted unreachable; its
// pods are evicted once their toleration runs out (a pod tolerating the
// taint forever stays); when the kubelet comes back the node is Ready and
// untainted again, and it finishes the evicted pod's deletion.
func TestNodeLifecycleUnreachableNode(t *testing.T) {
	srv := apiservertest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	core := srv.Client.CoreV1()
	stopA := hollowNode(t, srv, "node-a", "192.0.2.21")
	hollowNode(t, srv, "node-b", "192.0.2.22")
	reg := runNodeLifecycle(t, srv, nodelifecycle.Options{
		NodeMonitorGracePeriod: 6 * time.Second, NodeMonitorPeriod: 500 * time.Millisecond, EvictionRate: 10,
	})

	for _, p := range []*corev1.Pod{podOn("short", "node-a", ptr.To[int64](2)), podOn("forever", "node-a", nil), podOn("on-b", "node-b", ptr.To[int64](2))} {
		if _, err := core.Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, 30*time.Second, func() bool {
		list, err := core.Pods("default").List(ctx, metav1.ListOptions{})
		if err != nil || len(list.Items) != 3 {
			return false
		}
		for _, p := range list.Items {
			if p.Status.Phase != corev1.PodRunning {
				return false
			}
		}
		return true
	})

	stopA() // the kubelet stops: its heartbeat Lease is gone
	var a *corev1.Node
	waitUntil(t, 30*time.Second, func() bool {
		var err error
		a, err = core.Nodes().Get(ctx, "node-a", metav1.GetOptions{})
		return err == nil && hasTaint(a, corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute) != nil
	})
	for _, typ := range []corev1.NodeConditionType{corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure} {
		if c := nodeCondition(a, typ); c.Status != corev1.ConditionUnknown || c.Reason != "NodeStatusUnknown" || c.Message != "Kubelet stopped posting node status." {
			t.Errorf("node-a %s: %+v", typ, c)
		}
	}
	if hasTaint(a, corev1.TaintNodeUnreachable, corev1.TaintEffectNoSchedule) == nil || hasTaint(a, corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute).TimeAdded == nil {
		t.Errorf("node-a taints %+v", a.Spec.Taints)
	}

	// "short" is evicted: marked for deletion with its grace period, and it
	// stays Terminating since no kubelet runs it.
	var short *corev1.Pod
	waitUntil(t, 30*time.Second, func() bool {
		var err error
		short, err = core.Pods("default").Get(ctx, "short", metav1.GetOptions{})
		return err == nil && short.DeletionTimestamp != nil
	})
	if short.DeletionGracePeriodSeconds == nil || *short.DeletionGracePeriodSeconds != 30 {
		t.Errorf("evicted pod's grace period %v", short.DeletionGracePeriodSeconds)
	}
	waitUntil(t, 30*time.Second, func() bool {
		list, err := core.Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=short,reason=TaintManagerEviction"})
		return err == nil && len(list.Items) == 1
	})
	for _, name := range []string{"forever", "on-b"} {
		p, err := core.Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil || p.DeletionTimestamp != nil {
			t.Errorf("pod %s should stay: %v %v", name, err, p.DeletionTimestamp)
		}
	}
	if b, err := core.Nodes().Get(ctx, "node-b", metav1.GetOptions{}); err != nil || len(b.Spec.Taints) != 0 || nodeCondition(b, corev1.NodeReady).Status != corev1.ConditionTrue {
		t.Errorf("node-b should be untouched: %v %+v", err, b)
	}
	if n := evictionsTotal(t, reg); n != 1 {
		t.Errorf("node_collector_evictions_total = %v, want 1", n)
	}

	// The kubelet comes back.
	hollowNode(t, srv, "node-a", "192.0.2.21")
	waitUntil(t, 30*time.Second, func() bool {
		a, err := core.Nodes().Get(ctx, "node-a", metav1.GetOptions{})
		return err == nil && len(a.Spec.Taints) == 0 && nodeCondition(a, corev1.NodeReady).Status == corev1.ConditionTrue
	})
	waitUntil(t, 30*time.Second, func() bool {
		_, err := core.Pods("default").Get(ctx, "short", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
	if p, err := core.Pods("default").Get(ctx, "forever", metav1.GetOptions{}); err != nil || p.DeletionTimestamp != nil {
		t.Errorf("pod forever after the node's return: %v %+v", err, p)
	}
}

func evictionsTotal(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	return counterValue(t, reg, "node_collector_evictions_total", "", "")
}

// DefaultTolerationSeconds admission: a created pod tolerates not-ready
// and unreachable for 300 seconds, unless it brought its own toleration.
func TestDefaultTolerationSecondsAdmission(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	pods := srv.Client.CoreV1().Pods("default")
	plain, err := pods.Create(ctx, newPod("plain", nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{corev1.TaintNodeNotReady: 300, corev1.TaintNodeUnreachable: 300}
	if len(plain.Spec.Tolerations) != 2 {
		t.Fatalf("tolerations %+v", plain.Spec.Tolerations)
	}
	for _, tol := range plain.Spec.Tolerations {
		if tol.Operator != corev1.TolerationOpExists || tol.Effect != corev1.TaintEffectNoExecute || tol.TolerationSeconds == nil || *tol.TolerationSeconds != want[tol.Key] {
			t.Errorf("toleration %+v", tol)
		}
	}
	own, err := pods.Create(ctx, podOn("own", "", ptr.To[int64](2)), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(own.Spec.Tolerations) != 2 || own.Spec.Tolerations[0].Key != corev1.TaintNodeUnreachable || *own.Spec.Tolerations[0].TolerationSeconds != 2 ||
		own.Spec.Tolerations[1].Key != corev1.TaintNodeNotReady || *own.Spec.Tolerations[1].TolerationSeconds != 300 {
		t.Errorf("tolerations of a pod with its own %+v", own.Spec.Tolerations)
	}
}

// NoExecute taints are rate-limited per zone: when two nodes die at once
// both go Unknown and unschedulable at once, but at --node-eviction-rate
// 0.001 only one of them gets its NoExecute taint (the next would come a
// thousand seconds later), so only its pods are evicted.
func TestNodeLifecycleEvictionRate(t *testing.T) {
	srv := apiservertest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	core := srv.Client.CoreV1()
	stops := []func(){hollowNode(t, srv, "node-a", "192.0.2.21"), hollowNode(t, srv, "node-b", "192.0.2.22")}
	reg := runNodeLifecycle(t, srv, nodelifecycle.Options{
		NodeMonitorGracePeriod: 6 * time.Second, NodeMonitorPeriod: 500 * time.Millisecond, EvictionRate: 0.001,
	})
	for _, p := range []*corev1.Pod{podOn("on-a", "node-a", ptr.To[int64](0)), podOn("on-b", "node-b", ptr.To[int64](0))} {
		if _, err := core.Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, 30*time.Second, func() bool {
		list, err := core.Pods("default").List(ctx, metav1.ListOptions{FieldSelector: "status.phase=Running"})
		return err == nil && len(list.Items) == 2
	})
	for _, stop := range stops {
		stop()
	}
	var nodes *corev1.NodeList
	waitUntil(t, 30*time.Second, func() bool {
		var err error
		nodes, err = core.Nodes().List(ctx, metav1.ListOptions{})
		if err != nil || len(nodes.Items) != 2 {
			return false
		}
		noExecute := 0
		for i := range nodes.Items {
			n := &nodes.Items[i]
			if hasTaint(n, corev1.TaintNodeUnreachable, corev1.TaintEffectNoSchedule) == nil {
				return false
			}
			if hasTaint(n, corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute) != nil {
				noExecute++
			}
		}
		return noExecute == 1
	})
	tainted := "node-a"
	if hasTaint(&nodes.Items[1], corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute) != nil {
		tainted = nodes.Items[1].Name
	}
	// The pod on the tainted node is evicted; then the other node is still
	// waiting for its turn and its pod untouched.
	waitUntil(t, 30*time.Second, func() bool {
		list, err := core.Pods("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false
		}
		for _, p := range list.Items {
			if p.Spec.NodeName == tainted && p.DeletionTimestamp != nil {
				return true
			}
		}
		return false
	})
	list, err := core.Pods("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range list.Items {
		if p.Spec.NodeName != tainted && p.DeletionTimestamp != nil {
			t.Errorf("pod %s on the node waiting for its turn was evicted", p.Name)
		}
	}
	nodes, err = core.Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range nodes.Items {
		if n := &nodes.Items[i]; n.Name != tainted && hasTaint(n, corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute) != nil {
			t.Errorf("both nodes tainted NoExecute within the rate limit")
		}
	}
	if n := evictionsTotal(t, reg); n != 1 {
		t.Errorf("node_collector_evictions_total = %v, want 1", n)
	}
}
