package integration

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/shepherd-lab/shepherd/admission/admissiontest"
	"github.com/shepherd-lab/shepherd/apiserver/apiservertest"
	"github.com/shepherd-lab/shepherd/controller"
	"github.com/shepherd-lab/shepherd/controller/deployment"
	"github.com/shepherd-lab/shepherd/controller/replicaset"
	"github.com/shepherd-lab/shepherd/events"
	"github.com/shepherd-lab/shepherd/internal/testlog"
	"github.com/shepherd-lab/shepherd/kubelet"
	"github.com/shepherd-lab/shepherd/scheduler"
)

// startWorkloadCluster starts an apiserver, three hollow kubelets, the
// scheduler, and the ReplicaSet controller (and, with withDeployments, the
// Deployment controller) as the controller manager would.
func startWorkloadCluster(t *testing.T, withDeployments bool) (*apiservertest.Server, context.Context) {
	t.Helper()
	srv, ctx := apiservertest.Start(t), testCtx(t)
	log := testlog.New(t)
	bg, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { stop(); wg.Wait() })
	for i := 0; i < 3; i++ {
		cfg := kubelet.NodeConfig{Store: srv.Store, Admission: admissiontest.Follow(t, srv.Store), Name: fmt.Sprintf("hollow-%d", i), NodeIP: fmt.Sprintf("192.0.2.%d", 10+i), RootDir: t.TempDir(), Version: "test", Log: log}
		wg.Add(1)
		go func() { defer wg.Done(); kubelet.RunHollowNode(bg, cfg) }()
	}
	opts := scheduler.DefaultOptions()
	opts.LeaderElect = false
	runScheduler(t, srv, opts)

	adm := admissiontest.Follow(t, srv.Store)
	rec := events.NewRecorder(srv.Store, adm, "controller-manager", 0, log)
	c := &controller.Context{
		Store: srv.Store, Informers: controller.NewInformers(srv.Store, log), Events: rec, Log: log,
		QueueMetrics: controller.NewQueueMetrics(prometheus.NewRegistry()), Registry: prometheus.NewRegistry(),
		Admission: adm,
	}
	ctrls := []controller.Controller{replicaset.New(c)}
	if withDeployments {
		ctrls = append(ctrls, deployment.New(c))
	}
	c.Informers.Start(bg)
	wg.Add(1)
	go func() { defer wg.Done(); rec.Run(bg) }()
	for _, ctrl := range ctrls {
		wg.Add(1)
		go func() { defer wg.Done(); ctrl.Run(bg, 2) }()
	}
	t.Cleanup(func() { stop(); c.Informers.Wait() }) // before the kubelets' cleanup
	return srv, ctx
}

// podCounter follows pods through a watch, as a user running
// `kubectl get pods -w` would, and keeps the extremes it saw.
type podCounter struct {
	mu   sync.Mutex
	pods map[string]*corev1.Pod
	// check runs on every change with the pods then present.
	check func(pods map[string]*corev1.Pod)
}

// watchPodCounts starts a podCounter on the pods matching selector in
// "default"; it stops with the test.
func watchPodCounts(t *testing.T, cs kubernetes.Interface, selector string, check func(map[string]*corev1.Pod)) *podCounter {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	w, err := cs.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{LabelSelector: selector, ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	pc := &podCounter{pods: map[string]*corev1.Pod{}, check: check}
	for i := range list.Items {
		pc.pods[list.Items[i].Name] = &list.Items[i]
	}
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); w.Stop(); <-done })
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			pod, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			pc.mu.Lock()
			if ev.Type == watch.Deleted {
				delete(pc.pods, pod.Name)
			} else {
				pc.pods[pod.Name] = pod
			}
			if pc.check != nil {
				pc.check(pc.pods)
			}
			pc.mu.Unlock()
		}
	}()
	return pc
}

// countLivePods is how many pods are neither terminating nor finished.
func countLivePods(pods map[string]*corev1.Pod) int {
	n := 0
	for _, p := range pods {
		if p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			n++
		}
	}
	return n
}

func podIsReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func replicaSetFixture(name string, n int32, app string) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To(n),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
			},
		},
	}
}

// waitReplicaSetPods waits until exactly n live pods match app and all are ready
// and the ReplicaSet's status says so; it returns the pods.
func waitReplicaSetPods(t *testing.T, ctx context.Context, cs kubernetes.Interface, rs, app string, n int) []corev1.Pod {
	t.Helper()
	var live []corev1.Pod
	waitUntil(t, 20*time.Second, func() bool {
		list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
		if err != nil {
			return false
		}
		live = live[:0]
		for _, p := range list.Items {
			if p.DeletionTimestamp == nil {
				if !podIsReady(&p) {
					return false
				}
				live = append(live, p)
			}
		}
		r, err := cs.AppsV1().ReplicaSets("default").Get(ctx, rs, metav1.GetOptions{})
		return err == nil && len(live) == n && r.Status.Replicas == int32(n) && r.Status.ReadyReplicas == int32(n) &&
			r.Status.AvailableReplicas == int32(n) && r.Status.ObservedGeneration == r.Generation
	})
	return live
}

// A ReplicaSet scales up and down to exactly its replicas: a watch never
// sees more live pods than asked for; the pods carry the template's labels,
// the ReplicaSet's name as prefix and its controller reference; a pod
// deleted by hand is replaced.
func TestReplicaSetScale(t *testing.T) {
	srv, ctx := startWorkloadCluster(t, false)
	cs := srv.Client
	var mu sync.Mutex
	limit, worst := 0, 0
	watchPodCounts(t, cs, "app=scale", func(pods map[string]*corev1.Pod) {
		mu.Lock()
		defer mu.Unlock()
		if n := countLivePods(pods); n > limit && n > worst {
			worst = n
		}
	})
	setLimit := func(n int) { mu.Lock(); limit = n; mu.Unlock() }
	setLimit(5)
	rs, err := cs.AppsV1().ReplicaSets("default").Create(ctx, replicaSetFixture("scale", 5, "scale"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pods := waitReplicaSetPods(t, ctx, cs, "scale", "scale", 5)
	p := pods[0]
	ref := metav1.GetControllerOf(&p)
	if ref == nil || ref.UID != rs.UID || ref.Kind != "ReplicaSet" || ref.APIVersion != "apps/v1" || !ptr.Deref(ref.BlockOwnerDeletion, false) {
		t.Errorf("pod %s owner references %+v", p.Name, p.OwnerReferences)
	}
	if len(p.Name) != len("scale-")+5 || p.Name[:6] != "scale-" || p.GenerateName != "scale-" || p.Labels["app"] != "scale" {
		t.Errorf("pod name %q generateName %q labels %v", p.Name, p.GenerateName, p.Labels)
	}

	scale := func(n int32) {
		t.Helper()
		sc, err := cs.AppsV1().ReplicaSets("default").GetScale(ctx, "scale", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		sc.Spec.Replicas = n
		if _, err := cs.AppsV1().ReplicaSets("default").UpdateScale(ctx, "scale", sc, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	scale(2) // down: the limit stays at 5 until done
	waitReplicaSetPods(t, ctx, cs, "scale", "scale", 2)
	setLimit(7)
	scale(7)
	pods = waitReplicaSetPods(t, ctx, cs, "scale", "scale", 7)

	// A pod deleted by hand is replaced.
	gone := pods[0].Name
	if err := cs.CoreV1().Pods("default").Delete(ctx, gone, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 20*time.Second, func() bool {
		list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=scale"})
		if err != nil || len(list.Items) != 7 {
			return false
		}
		for _, p := range list.Items {
			if p.Name == gone || !podIsReady(&p) {
				return false
			}
		}
		return true
	})
	mu.Lock()
	defer mu.Unlock()
	if worst > 0 {
		t.Errorf("a watch saw %d live pods, more than the ReplicaSet's replicas", worst)
	}
}

// A ReplicaSet adopts an orphan pod its selector matches, creating only
// the rest, and releases a pod whose labels stop matching, replacing it.
func TestReplicaSetAdoptAndRelease(t *testing.T) {
	srv, ctx := startWorkloadCluster(t, false)
	cs := srv.Client
	orphan := newPod("orphan", map[string]string{"app": "adopt"})
	orphan.Spec.NodeName = "hollow-0"
	if _, err := cs.CoreV1().Pods("default").Create(ctx, orphan, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rs, err := cs.AppsV1().ReplicaSets("default").Create(ctx, replicaSetFixture("adopt", 3, "adopt"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pods := waitReplicaSetPods(t, ctx, cs, "adopt", "adopt", 3)
	var adopted bool
	for _, p := range pods {
		if p.Name == "orphan" {
			ref := metav1.GetControllerOf(&p)
			adopted = ref != nil && ref.UID == rs.UID
		}
	}
	if !adopted {
		t.Fatalf("the orphan pod was not adopted: %+v", pods)
	}

	// Release: the pod's labels no longer match the selector.
	p, err := cs.CoreV1().Pods("default").Get(ctx, "orphan", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Labels = map[string]string{"app": "elsewhere"}
	if _, err := cs.CoreV1().Pods("default").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 20*time.Second, func() bool {
		p, err := cs.CoreV1().Pods("default").Get(ctx, "orphan", metav1.GetOptions{})
		return err == nil && len(p.OwnerReferences) == 0
	})
	waitReplicaSetPods(t, ctx, cs, "adopt", "adopt", 3)
}
