package integration

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-lab/shepherd/admission/admissiontest"
	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/apiserver/apiservertest"
	"github.com/shepherd-lab/shepherd/controller"
	"github.com/shepherd-lab/shepherd/controller/podgc"
	"github.com/shepherd-lab/shepherd/events"
	"github.com/shepherd-lab/shepherd/internal/testlog"
)

func runPodGC(t *testing.T, srv *apiservertest.Server, opts podgc.Options) {
	t.Helper()
	log := testlog.New(t)
	reg := prometheus.NewRegistry()
	adm := admissiontest.Follow(t, srv.Store)
	c := &controller.Context{
		Store: srv.Store, Informers: controller.NewInformers(srv.Store, log),
		Events: events.NewRecorder(srv.Store, adm, "controller-manager", 0, log), Log: log,
		QueueMetrics: controller.NewQueueMetrics(reg), Registry: reg, Admission: adm,
	}
	gc := podgc.New(c, opts)
	ctx, cancel := context.WithCancel(context.Background())
	c.Informers.Start(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); gc.Run(ctx, 1) }()
	t.Cleanup(func() { cancel(); wg.Wait(); c.Informers.Wait() })
}

// createAged stores a pod created age ago (as if it had been there all
// along), then sets its phase as a kubelet would.
func createAged(t *testing.T, ctx context.Context, srv *apiservertest.Server, p *corev1.Pod, age time.Duration, phase corev1.PodPhase) {
	t.Helper()
	p.Namespace = "default"
	if err := api.Pods.BeforeCreate(p); err != nil {
		t.Fatal(err)
	}
	p.CreationTimestamp = metav1.NewTime(time.Now().Add(-age))
	if err := srv.Store.Create(ctx, api.Pods.Storage, p); err != nil {
		t.Fatal(err)
	}
	if phase == "" {
		return
	}
	cur, err := srv.Client.CoreV1().Pods("default").Get(ctx, p.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cur.Status.Phase = phase
	if _, err := srv.Client.CoreV1().Pods("default").UpdateStatus(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// Terminated pods beyond the threshold are deleted oldest first; running
// pods are never counted.
func TestPodGCTerminatedThreshold(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	// Names sort opposite to age, so only the creation time can order them.
	for i, name := range []string{"done-d", "done-c", "done-b", "done-a"} {
		createAged(t, ctx, srv, newPod(name, nil), time.Duration(4-i)*time.Hour, corev1.PodSucceeded)
	}
	createAged(t, ctx, srv, newPod("pending-old", nil), 10*time.Hour, "")
	runPodGC(t, srv, podgc.Options{TerminatedPodThreshold: 2, Period: 200 * time.Millisecond})

	var names []string
	waitUntil(t, 30*time.Second, func() bool {
		list, err := srv.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false
		}
		names = names[:0]
		for _, p := range list.Items {
			names = append(names, p.Name)
		}
		return len(names) == 3
	})
	sort.Strings(names)
	if want := []string{"done-a", "done-b", "pending-old"}; len(names) != 3 || names[0] != want[0] || names[1] != want[1] || names[2] != want[2] {
		t.Errorf("pods left %v, want %v (the two newest terminated and the pending one)", names, want)
	}
}

// A pod bound to a node that does not exist is deleted after the
// quarantine; one on an existing node stays.
func TestPodGCOrphans(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	core := srv.Client.CoreV1()
	if _, err := core.Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "present"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for name, node := range map[string]string{"orphan": "ghost", "kept": "present"} {
		p := newPod(name, nil)
		p.Spec.NodeName = node
		if _, err := core.Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	runPodGC(t, srv, podgc.Options{Period: 200 * time.Millisecond, Quarantine: time.Second})
	waitUntil(t, 30*time.Second, func() bool {
		_, err := core.Pods("default").Get(ctx, "orphan", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
	if _, err := core.Pods("default").Get(ctx, "kept", metav1.GetOptions{}); err != nil {
		t.Errorf("pod on an existing node: %v", err)
	}
}
