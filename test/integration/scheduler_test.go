package integration

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/shepherd-lab/shepherd/apiserver/apiservertest"
	"github.com/shepherd-lab/shepherd/scheduler"
)

// runScheduler runs a scheduler against the test apiserver's etcd until the
// returned stop is called or the test ends.
func runScheduler(t *testing.T, srv *apiservertest.Server, opts scheduler.Options) (*scheduler.Scheduler, func() error) {
	t.Helper()
	opts.Store = srv.Store
	if opts.Log == nil {
		level := slog.LevelWarn
		if os.Getenv("SHEPHERD_TEST_LOG") != "" {
			level = slog.LevelDebug
		}
		opts.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("scheduler", opts.Identity)
	}
	s := scheduler.New(opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	var err error
	stop := func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() { stop() })
	return s, stop
}

// addNode registers a Ready node with a live heartbeat lease, as a kubelet
// would.
func addNode(t *testing.T, c kubernetes.Interface, name, cpu, memory string, mutate func(*corev1.Node)) {
	t.Helper()
	ctx := testCtx(t)
	alloc := corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(memory),
		corev1.ResourcePods: resource.MustParse("250"), corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
	}
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}}}
	if mutate != nil {
		mutate(n)
	}
	if err := apiservertest.RegisterNode(ctx, c, n, alloc); err != nil {
		t.Fatal(err)
	}
}

func requestingPod(name, cpu, memory string) *corev1.Pod {
	p := newPod(name, map[string]string{"app": "burst"})
	p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(memory),
	}
	return p
}

// waitPod waits until cond holds for the named pod.
func waitPod(t *testing.T, c kubernetes.Interface, name string, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		p, err := c.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
		if err == nil && cond(p) {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s: not %s after 30s: %v %+v", name, what, err, p.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func scheduledCondition(p *corev1.Pod) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodScheduled {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

func unschedulableWith(msg string) func(*corev1.Pod) bool {
	return func(p *corev1.Pod) bool {
		c := scheduledCondition(p)
		return c != nil && c.Status == corev1.ConditionFalse && c.Reason == "Unschedulable" && c.Message == msg
	}
}

func isBound(p *corev1.Pod) bool { return p.Spec.NodeName != "" }

// bindingRecorder watches pods and counts, for each pod, the changes of
// spec.nodeName: a pod bound exactly once has one.
type bindingRecorder struct {
	mu    sync.Mutex
	binds map[string][]string // pod → nodes it was bound to, in order
}

func recordBindings(t *testing.T, c kubernetes.Interface) *bindingRecorder {
	t.Helper()
	w, err := c.CoreV1().Pods("default").Watch(testCtx(t), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	r := &bindingRecorder{binds: map[string][]string{}}
	last := map[string]string{}
	go func() {
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok || ev.Type == watch.Deleted {
				continue
			}
			r.mu.Lock()
			if p.Spec.NodeName != last[p.Name] {
				r.binds[p.Name] = append(r.binds[p.Name], p.Spec.NodeName)
				last[p.Name] = p.Spec.NodeName
			}
			r.mu.Unlock()
		}
	}()
	return r
}

// waitAllBound waits until every named pod has been bound once, and fails
// if any was bound twice or moved.
func (r *bindingRecorder) waitAllBound(t *testing.T, names []string) map[string]string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		r.mu.Lock()
		bound, out := 0, map[string]string{}
		for _, n := range names {
			b := r.binds[n]
			if len(b) > 1 {
				r.mu.Unlock()
				t.Fatalf("pod %s bound more than once: %v", n, b)
			}
			if len(b) == 1 {
				bound++
				out[n] = b[0]
			}
		}
		r.mu.Unlock()
		if bound == len(names) {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d pods bound after 60s", bound, len(names))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func createPods(t *testing.T, c kubernetes.Interface, prefix string, n int, mk func(name string) *corev1.Pod) []string {
	t.Helper()
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s-%03d", prefix, i)
		if _, err := c.CoreV1().Pods("default").Create(testCtx(t), mk(names[i]), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return names
}

func TestSchedulerBurstSpreadsWithinCapacity(t *testing.T) {
	srv := apiservertest.Start(t)
	c := srv.Client
	// 14 CPUs in all; the burst asks for 12.
	addNode(t, c, "small", "2", "4Gi", nil)
	addNode(t, c, "medium", "4", "8Gi", nil)
	addNode(t, c, "large", "8", "16Gi", nil)
	bindings := recordBindings(t, c)
	runScheduler(t, srv, scheduler.Options{LeaderElect: false, Identity: "only"})

	names := createPods(t, c, "burst", 300, func(n string) *corev1.Pod { return requestingPod(n, "40m", "64Mi") })
	placed := bindings.waitAllBound(t, names)

	perNode := map[string]int{}
	for _, node := range placed {
		perNode[node]++
	}
	capacity := map[string]int{"small": 2000 / 40, "medium": 4000 / 40, "large": 8000 / 40}
	for node, max := range capacity {
		if perNode[node] == 0 || perNode[node] > max {
			t.Errorf("node %s got %d pods, want 1..%d (all: %v)", node, perNode[node], max, perNode)
		}
	}
	// Least-allocated scoring fills nodes in proportion to their size.
	if perNode["large"] <= perNode["small"] {
		t.Errorf("large node got %d pods, small %d: want the larger node to take more", perNode["large"], perNode["small"])
	}
	p, err := c.CoreV1().Pods("default").Get(testCtx(t), names[0], metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cond := scheduledCondition(p); cond == nil || cond.Status != corev1.ConditionTrue {
		t.Errorf("bound pod's PodScheduled condition = %+v, want True", cond)
	}
	// kubectl describe shows a Scheduled event for it.
	waitEvent(t, c, names[0], "Scheduled", "Successfully assigned default/"+names[0]+" to "+p.Spec.NodeName)

	// Nothing has 4 free CPUs now: the pod waits, saying why.
	if _, err := c.CoreV1().Pods("default").Create(testCtx(t), requestingPod("huge", "4", "1Gi"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	msg := "0/3 nodes are available: 3 Insufficient cpu."
	waitPod(t, c, "huge", "unschedulable", unschedulableWith(msg))
	waitEvent(t, c, "huge", "FailedScheduling", msg)

	// A new node with room: the pod is placed there without waiting out a
	// long backoff.
	addNode(t, c, "xlarge", "16", "32Gi", nil)
	p = waitPod(t, c, "huge", "bound", isBound)
	if p.Spec.NodeName != "xlarge" {
		t.Errorf("huge pod bound to %s, want xlarge", p.Spec.NodeName)
	}
}

// waitEvent waits for an event about the named pod with reason and message.
func waitEvent(t *testing.T, c kubernetes.Interface, pod, reason, message string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var seen []string
	for {
		list, err := c.CoreV1().Events("default").List(testCtx(t), metav1.ListOptions{
			FieldSelector: fields.OneTermEqualSelector("involvedObject.name", pod).String(),
		})
		if err == nil {
			seen = seen[:0]
			for _, e := range list.Items {
				if e.Reason == reason && e.Message == message {
					return
				}
				seen = append(seen, e.Reason+": "+e.Message)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s event %q for pod %s after 30s; events: %v (%v)", reason, message, pod, seen, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSchedulerTaintsSelectorsAndCordons(t *testing.T) {
	srv := apiservertest.Start(t)
	c := srv.Client
	addNode(t, c, "gpu", "4", "8Gi", func(n *corev1.Node) {
		n.Labels["hardware"] = "gpu"
		n.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}}
	})
	addNode(t, c, "plain", "4", "8Gi", nil)
	addNode(t, c, "cordoned", "4", "8Gi", func(n *corev1.Node) { n.Spec.Unschedulable = true })
	runScheduler(t, srv, scheduler.Options{LeaderElect: false})
	ctx := testCtx(t)

	// Untolerated taint and the cordon leave one node.
	for _, name := range []string{"a", "b", "c"} {
		if _, err := c.CoreV1().Pods("default").Create(ctx, newPod(name, nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if p := waitPod(t, c, name, "bound", isBound); p.Spec.NodeName != "plain" {
			t.Errorf("pod %s bound to %s, want plain (gpu is tainted, cordoned is cordoned)", name, p.Spec.NodeName)
		}
	}

	// Selecting the GPU node without tolerating its taint: unschedulable,
	// with a reason per node.
	sel := newPod("selects-gpu", nil)
	sel.Spec.NodeSelector = map[string]string{"hardware": "gpu"}
	if _, err := c.CoreV1().Pods("default").Create(ctx, sel, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPod(t, c, "selects-gpu", "unschedulable", unschedulableWith(
		"0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint {dedicated: gpu}, 1 node(s) were unschedulable."))

	// Tolerating it, through required node affinity this time.
	tol := newPod("tolerates-gpu", nil)
	tol.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "gpu", Effect: corev1.TaintEffectNoSchedule}}
	tol.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "hardware", Operator: corev1.NodeSelectorOpIn, Values: []string{"gpu"}}},
		}}},
	}}
	if _, err := c.CoreV1().Pods("default").Create(ctx, tol, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if p := waitPod(t, c, "tolerates-gpu", "bound", isBound); p.Spec.NodeName != "gpu" {
		t.Errorf("tolerating pod bound to %s, want gpu", p.Spec.NodeName)
	}

	// Uncordoning brings the cordoned node back: a pod pinned to it by
	// affinity waits until then.
	pin := newPod("pinned", nil)
	pin.Spec.NodeSelector = map[string]string{"kubernetes.io/hostname": "cordoned"}
	if _, err := c.CoreV1().Pods("default").Create(ctx, pin, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPod(t, c, "pinned", "unschedulable", func(p *corev1.Pod) bool {
		cond := scheduledCondition(p)
		return cond != nil && cond.Status == corev1.ConditionFalse && strings.Contains(cond.Message, "1 node(s) were unschedulable")
	})
	n, err := c.CoreV1().Nodes().Get(ctx, "cordoned", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Spec.Unschedulable = false
	if _, err := c.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if p := waitPod(t, c, "pinned", "bound", isBound); p.Spec.NodeName != "cordoned" {
		t.Errorf("pinned pod bound to %s", p.Spec.NodeName)
	}

	// A pod with spec.nodeName set is left alone, and one for another
	// scheduler is not touched.
	other := newPod("other-scheduler", nil)
	other.Spec.SchedulerName = "my-scheduler"
	if _, err := c.CoreV1().Pods("default").Create(ctx, other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	p, err := c.CoreV1().Pods("default").Get(ctx, "other-scheduler", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec.NodeName != "" || scheduledCondition(p) != nil {
		t.Errorf("pod of another scheduler was touched: node %q, conditions %v", p.Spec.NodeName, p.Status.Conditions)
	}
}

func TestSchedulerHigherPriorityFirst(t *testing.T) {
	srv := apiservertest.Start(t)
	c := srv.Client
	addNode(t, c, "one", "1", "4Gi", nil)
	ctx := testCtx(t)
	// Both pods are pending before the scheduler starts (the low one first,
	// in creation and in key order); only one fits. Their priorities come
	// from their classes (Priority admission): 0 and system-node-critical.
	low := requestingPod("a-low", "800m", "64Mi")
	high := requestingPod("b-high", "800m", "64Mi")
	high.Spec.PriorityClassName = "system-node-critical"
	for _, p := range []*corev1.Pod{low, high} {
		if _, err := c.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	runScheduler(t, srv, scheduler.Options{LeaderElect: false})
	waitPod(t, c, "b-high", "bound", isBound)
	waitPod(t, c, "a-low", "unschedulable", unschedulableWith("0/1 nodes are available: 1 Insufficient cpu."))
}

func TestSchedulerLeaderElection(t *testing.T) {
	srv := apiservertest.Start(t)
	c := srv.Client
	addNode(t, c, "n1", "64", "64Gi", nil)
	addNode(t, c, "n2", "64", "64Gi", nil)
	bindings := recordBindings(t, c)
	opts := scheduler.Options{LeaderElect: true, LeaseDuration: 2 * time.Second}
	opts.Identity = "first"
	first, stopFirst := runScheduler(t, srv, opts)
	waitFor(t, "first scheduler to lead", first.Leading)
	opts.Identity = "second"
	second, _ := runScheduler(t, srv, opts)

	names := createPods(t, c, "before", 50, func(n string) *corev1.Pod { return newPod(n, nil) })
	bindings.waitAllBound(t, names)
	if second.Leading() {
		t.Fatal("two schedulers lead at once")
	}
	lease, err := c.CoordinationV1().Leases("kube-system").Get(testCtx(t), "kube-scheduler", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ptr.Deref(lease.Spec.HolderIdentity, ""); got != "first" {
		t.Errorf("kube-system/kube-scheduler lease held by %q, want first", got)
	}

	// Pods created while the leader steps down are all bound once, by
	// whichever leads.
	more := createPods(t, c, "during", 50, func(n string) *corev1.Pod { return newPod(n, nil) })
	if err := stopFirst(); err != nil {
		t.Fatalf("first scheduler: %v", err)
	}
	waitFor(t, "second scheduler to lead", second.Leading)
	after := createPods(t, c, "after", 50, func(n string) *corev1.Pod { return newPod(n, nil) })
	bindings.waitAllBound(t, append(append(names, more...), after...))
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 30s waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A pending pod whose namespace is being deleted is not bound: the
// binding passes admission like every write, and NamespaceLifecycle
// refuses creates (pods/binding included) there, as in Kubernetes. The
// refusal counts as an error attempt and is not retried; the namespace
// controller deletes the pod.
func TestSchedulerDoesNotBindInTerminatingNamespaces(t *testing.T) {
	srv := apiservertest.Start(t)
	c := srv.Client
	ctx := testCtx(t)
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "leaving"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"leaving", "default"} {
		if _, err := c.CoreV1().Pods(ns).Create(ctx, newPod("p", nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// No namespace controller runs here: the namespace stays Terminating
	// with its pod in it.
	if err := c.CoreV1().Namespaces().Delete(ctx, "leaving", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	addNode(t, c, "n1", "4", "8Gi", nil)
	reg := prometheus.NewRegistry()
	runScheduler(t, srv, scheduler.Options{LeaderElect: false, Registry: reg})
	waitPod(t, c, "p", "bound", isBound) // default/p: the scheduler works
	waitFor(t, "the refused binding counted as an error", func() bool {
		return counterValue(t, reg, "scheduler_schedule_attempts_total", "result", "error") >= 1
	})
	p, err := c.CoreV1().Pods("leaving").Get(ctx, "p", metav1.GetOptions{})
	if err != nil || p.Spec.NodeName != "" {
		t.Fatalf("pod in a terminating namespace: %v, bound to %q", err, p.Spec.NodeName)
	}
}

// counterValue sums the samples of a counter whose label has value (every
// sample when label is "").
func counterValue(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			match := label == ""
			for _, l := range m.GetLabel() {
				match = match || l.GetName() == label && l.GetValue() == value
			}
			if match {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}
