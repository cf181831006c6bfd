package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/shepherd-lab/shepherd/apiserver/apiservertest"
)

// scheduler is a shepherd-scheduler process and its metrics address.
type scheduler struct {
	*process
	identity, metrics string
}

func startScheduler(t *testing.T, etcdURL, identity string) *scheduler {
	port := freePort(t)
	p := start(t, binary("shepherd-scheduler"),
		"--etcd-servers", etcdURL, "--port", strconv.Itoa(port),
		"--leader-elect-identity", identity, "--leader-elect-lease-duration", "4s")
	return &scheduler{process: p, identity: identity, metrics: fmt.Sprintf("http://127.0.0.1:%d/metrics", port)}
}

// leading scrapes the scheduler's leader_election_master_status.
func (s *scheduler) leading() bool {
	resp, err := http.Get(s.metrics)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return strings.Contains(string(body), `leader_election_master_status{name="kube-scheduler"} 1`)
}

func registerNode(t *testing.T, c kubernetes.Interface, name string) {
	t.Helper()
	alloc := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8"), corev1.ResourceMemory: resource.MustParse("16Gi"), corev1.ResourcePods: resource.MustParse("110")}
	if err := apiservertest.RegisterNode(ctxFor(t), c, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, alloc); err != nil {
		t.Fatal(err)
	}
}

// TestSchedulerLeaderKilled runs two schedulers, SIGKILLs the leader while
// pods are pending, and checks the standby takes over and every pod is
// bound exactly once.
func TestSchedulerLeaderKilled(t *testing.T) {
	etcdPort := freePort(t)
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", etcdPort)
	port := freePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	api := start(t, binary("shepherd-apiserver"), "--data-dir", t.TempDir(), "--port", strconv.Itoa(port),
		"--etcd-listen-client-url", etcdURL, "--etcd-listen-peer-url", fmt.Sprintf("http://127.0.0.1:%d", freePort(t)))
	c := waitReady(t, api, url)
	for _, n := range []string{"node-a", "node-b", "node-c"} {
		registerNode(t, c, n)
	}

	// Every change of a pod's node, as a watcher sees it.
	w, err := c.CoreV1().Pods("default").Watch(ctxFor(t), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var mu sync.Mutex
	binds := map[string][]string{}
	go func() {
		for ev := range w.ResultChan() {
			if p, ok := ev.Object.(*corev1.Pod); ok && ev.Type != watch.Deleted {
				mu.Lock()
				if b := binds[p.Name]; p.Spec.NodeName != "" && (len(b) == 0 || b[len(b)-1] != p.Spec.NodeName) {
					binds[p.Name] = append(b, p.Spec.NodeName)
				}
				mu.Unlock()
			}
		}
	}()

	a := startScheduler(t, etcdURL, "sched-a")
	waitUntil(t, "sched-a to lead", a.leading)
	b := startScheduler(t, etcdURL, "sched-b")
	var names []string
	create := func(prefix string, n int) {
		for i := 0; i < n; i++ {
			name := fmt.Sprintf("%s-%03d", prefix, i)
			pod := testPod(name)
			if _, err := c.CoreV1().Pods("default").Create(ctxFor(t), pod, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			names = append(names, name)
		}
	}
	allBound := func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, n := range names {
			if len(binds[n]) == 0 {
				return false
			}
		}
		return true
	}
	create("first", 60)
	waitUntil(t, "the first pods to be bound", allBound)
	if b.leading() {
		t.Fatal("both schedulers lead")
	}

	// Kill the leader without a chance to resign, with pods pending.
	a.kill(syscall.SIGKILL)
	killed := time.Now()
	create("second", 60)
	waitUntil(t, "sched-b to lead", b.leading)
	t.Logf("standby led %s after the leader was killed (lease duration 4s)", time.Since(killed).Round(10*time.Millisecond))
	waitUntil(t, "every pod to be bound", allBound)

	mu.Lock()
	for _, n := range names {
		if len(binds[n]) != 1 {
			t.Errorf("pod %s: nodes over time %v, want exactly one binding", n, binds[n])
		}
	}
	mu.Unlock()
	lease, err := c.CoordinationV1().Leases("kube-system").Get(ctxFor(t), "kube-scheduler", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ptr.Deref(lease.Spec.HolderIdentity, ""); got != "sched-b" {
		t.Errorf("kube-scheduler lease held by %q, want sched-b", got)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 60s waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
