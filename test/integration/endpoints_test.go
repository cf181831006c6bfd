package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/shepherd-lab/shepherd/admission/admissiontest"
	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/apiserver/apiservertest"
	"github.com/shepherd-lab/shepherd/controller"
	"github.com/shepherd-lab/shepherd/controller/endpoints"
	"github.com/shepherd-lab/shepherd/events"
	"github.com/shepherd-lab/shepherd/internal/testlog"
	"github.com/shepherd-lab/shepherd/kubelet"
)

// runEndpointsController runs the endpoints controller against srv, as the
// controller manager does, until the test ends or stop is called.
func runEndpointsController(t *testing.T, srv *apiservertest.Server) (stop func()) {
	t.Helper()
	log := testlog.New(t)
	reg := prometheus.NewRegistry()
	adm := admissiontest.Follow(t, srv.Store)
	c := &controller.Context{
		Store: srv.Store, Informers: controller.NewInformers(srv.Store, log),
		Events: events.NewRecorder(srv.Store, adm, "controller-manager", 0, log), Log: log,
		QueueMetrics: controller.NewQueueMetrics(reg), Registry: reg, Admission: adm,
	}
	ec := endpoints.New(c)
	ctx, cancel := context.WithCancel(context.Background())
	c.Informers.Start(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); c.Events.Run(ctx) }()
	go func() { defer wg.Done(); ec.Run(ctx, 2) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait(); c.Informers.Wait() }) }
	t.Cleanup(stop)
	return stop
}

// setEndpointsPodStatus writes the status a kubelet would: Running with ip, Ready
// as ready says.
func setEndpointsPodStatus(t *testing.T, ctx context.Context, srv *apiservertest.Server, name, ip string, ready bool) {
	t.Helper()
	pods := srv.Client.CoreV1().Pods("default")
	for {
		p, err := pods.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		status := corev1.ConditionFalse
		if ready {
			status = corev1.ConditionTrue
		}
		p.Status.Phase = corev1.PodRunning
		p.Status.PodIP, p.Status.PodIPs = ip, []corev1.PodIP{{IP: ip}}
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status, LastTransitionTime: metav1.Now()}}
		_, err = pods.UpdateStatus(ctx, p, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		return
	}
}

func endpointsPod(name string, labels map[string]string, httpPort int32) *corev1.Pod {
	p := newPod(name, labels)
	p.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: httpPort}}
	return p
}

// epSummary renders Endpoints as "ready|notReady:ports" per subset, each
// address as name=ip, for comparisons a reader can check by eye.
func epSummary(ep *corev1.Endpoints) string {
	var subsets []string
	names := func(as []corev1.EndpointAddress) string {
		var s []string
		for _, a := range as {
			ref := "?"
			if a.TargetRef != nil && a.TargetRef.Kind == "Pod" && a.TargetRef.Namespace == ep.Namespace && a.TargetRef.UID != "" {
				ref = a.TargetRef.Name
			}
			s = append(s, ref+"="+a.IP)
		}
		return strings.Join(s, ",")
	}
	for _, ss := range ep.Subsets {
		var ports []string
		for _, p := range ss.Ports {
			ports = append(ports, fmt.Sprintf("%s/%d", p.Name, p.Port))
		}
		subsets = append(subsets, names(ss.Addresses)+"|"+names(ss.NotReadyAddresses)+":"+strings.Join(ports, ","))
	}
	sort.Strings(subsets)
	return strings.Join(subsets, " ")
}

// waitEndpoints waits until the named Endpoints summarize as want
// ("<absent>" when there must be none) and returns them.
func waitEndpoints(t *testing.T, ctx context.Context, srv *apiservertest.Server, name, want string) *corev1.Endpoints {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := "<absent>"
		ep, err := srv.Client.CoreV1().Endpoints("default").Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			t.Fatal(err)
		default:
			got = epSummary(ep)
		}
		if got == want {
			return ep
		}
		if time.Now().After(deadline) {
			t.Fatalf("endpoints %s:\n got %q\nwant %q", name, got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The endpoints controller lists the pods a service selects, ready or not,
// follows their readiness, deletion and labels and the service's selector
// and ports, and leaves alone the Endpoints of services without a selector.
func TestEndpointsController(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	core := srv.Client.CoreV1()
	runEndpointsController(t, srv)

	app := map[string]string{"app": "web"}
	for i, name := range []string{"a", "b", "c"} {
		if _, err := core.Pods("default").Create(ctx, endpointsPod(name, app, 8080), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		setEndpointsPodStatus(t, ctx, srv, name, fmt.Sprintf("10.1.0.%d", i+1), true)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"tier": "front"}},
		Spec: corev1.ServiceSpec{Selector: app, Ports: []corev1.ServicePort{
			{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}}},
	}
	if _, err := core.Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	ep := waitEndpoints(t, ctx, srv, "web", "a=10.1.0.1,b=10.1.0.2,c=10.1.0.3|:http/8080")
	if ep.Labels["tier"] != "front" || ep.Labels["endpoints.kubernetes.io/managed-by"] != "endpoint-controller" {
		t.Errorf("endpoints labels %v, want the service's and managed-by endpoint-controller", ep.Labels)
	}
	if _, err := time.Parse(time.RFC3339Nano, ep.Annotations["endpoints.kubernetes.io/last-change-trigger-time"]); err != nil {
		t.Errorf("last-change-trigger-time annotation: %v (annotations %v)", err, ep.Annotations)
	}
	ref := ep.Subsets[0].Addresses[0].TargetRef
	if a, _ := core.Pods("default").Get(ctx, "a", metav1.GetOptions{}); ref.Name != "a" || ref.UID != a.UID {
		t.Errorf("targetRef %+v, want pod a (uid %s)", ref, a.UID)
	}

	t.Run("not ready pod moves to notReadyAddresses", func(t *testing.T) {
		setEndpointsPodStatus(t, ctx, srv, "b", "10.1.0.2", false)
		waitEndpoints(t, ctx, srv, "web", "a=10.1.0.1,c=10.1.0.3|b=10.1.0.2:http/8080")
	})

	t.Run("an unrelated pod change does not rewrite endpoints", func(t *testing.T) {
		before, err := core.Endpoints("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		w, err := core.Endpoints("default").Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=web", ResourceVersion: before.ResourceVersion})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		p, _ := core.Pods("default").Get(ctx, "a", metav1.GetOptions{})
		p.Annotations = map[string]string{"note": "irrelevant"}
		if _, err := core.Pods("default").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		// A change that does matter: the first write seen must be it.
		s, _ := core.Services("default").Get(ctx, "web", metav1.GetOptions{})
		s.Labels["tier"] = "back"
		if _, err := core.Services("default").Update(ctx, s, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		select {
		case ev := <-w.ResultChan():
			if got := ev.Object.(*corev1.Endpoints); ev.Type != watch.Modified || got.Labels["tier"] != "back" {
				t.Fatalf("first endpoints change after an irrelevant pod update: %s %v", ev.Type, got.Labels)
			}
		case <-ctx.Done():
			t.Fatal("endpoints never followed the service's labels")
		}
	})

	t.Run("deleted pod disappears", func(t *testing.T) {
		if err := core.Pods("default").Delete(ctx, "c", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		waitEndpoints(t, ctx, srv, "web", "a=10.1.0.1|b=10.1.0.2:http/8080")
	})

	t.Run("named targetPort resolved per pod", func(t *testing.T) {
		if _, err := core.Pods("default").Create(ctx, endpointsPod("d", app, 9090), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		setEndpointsPodStatus(t, ctx, srv, "d", "10.1.0.4", true)
		waitEndpoints(t, ctx, srv, "web", "a=10.1.0.1|b=10.1.0.2:http/8080 d=10.1.0.4|:http/9090")
	})

	t.Run("selector change", func(t *testing.T) {
		p, _ := core.Pods("default").Get(ctx, "d", metav1.GetOptions{})
		p.Labels["canary"] = "yes"
		if _, err := core.Pods("default").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		s, _ := core.Services("default").Get(ctx, "web", metav1.GetOptions{})
		s.Spec.Selector = map[string]string{"app": "web", "canary": "yes"}
		if _, err := core.Services("default").Update(ctx, s, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitEndpoints(t, ctx, srv, "web", "d=10.1.0.4|:http/9090")
		// A pod relabelled into the selector joins.
		p, _ = core.Pods("default").Get(ctx, "a", metav1.GetOptions{})
		p.Labels["canary"] = "yes"
		if _, err := core.Pods("default").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitEndpoints(t, ctx, srv, "web", "a=10.1.0.1|:http/8080 d=10.1.0.4|:http/9090")
	})

	t.Run("endpoints deleted by a user come back", func(t *testing.T) {
		old, err := core.Endpoints("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := core.Endpoints("default").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, 30*time.Second, func() bool {
			ep, err := core.Endpoints("default").Get(ctx, "web", metav1.GetOptions{})
			return err == nil && ep.UID != old.UID
		})
		waitEndpoints(t, ctx, srv, "web", "a=10.1.0.1|:http/8080 d=10.1.0.4|:http/9090")
	})

	t.Run("service deleted: endpoints deleted", func(t *testing.T) {
		if err := core.Services("default").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		waitEndpoints(t, ctx, srv, "web", "<absent>")
	})

	t.Run("service without selector keeps its user's endpoints", func(t *testing.T) {
		ext := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "external"},
			Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "db", Port: 5432}}},
		}
		if _, err := core.Services("default").Create(ctx, ext, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		user := &corev1.Endpoints{
			ObjectMeta: metav1.ObjectMeta{Name: "external"},
			Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: "192.0.2.50"}},
				Ports: []corev1.EndpointPort{{Name: "db", Port: 5432}}}},
		}
		if _, err := core.Endpoints("default").Create(ctx, user, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		// A selector service created after it is a sign the controller
		// has seen both; then the user's object must be as written.
		if _, err := core.Services("default").Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "marker"},
			Spec:       corev1.ServiceSpec{Selector: app, Ports: []corev1.ServicePort{{Port: 80}}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitEndpoints(t, ctx, srv, "marker", "a=10.1.0.1,d=10.1.0.4|b=10.1.0.2:/80")
		got, err := core.Endpoints("default").Get(ctx, "external", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if s := epSummary(got); s != "?=192.0.2.50|:db/5432" || len(got.Labels) != 0 || len(got.Annotations) != 0 {
			t.Errorf("user's endpoints changed: %s labels %v annotations %v", s, got.Labels, got.Annotations)
		}
	})
}

// Endpoints whose service was deleted while no controller ran are deleted
// when one starts; Endpoints a user keeps without any service are not.
func TestEndpointsLeftAfterRestart(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	core := srv.Client.CoreV1()
	stop := runEndpointsController(t, srv)
	app := map[string]string{"app": "gone"}
	if _, err := core.Pods("default").Create(ctx, endpointsPod("p", app, 8080), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	setEndpointsPodStatus(t, ctx, srv, "p", "10.2.0.1", true)
	if _, err := core.Services("default").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "gone"},
		Spec:       corev1.ServiceSpec{Selector: app, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitEndpoints(t, ctx, srv, "gone", "p=10.2.0.1|:/8080")
	if _, err := core.Endpoints("default").Create(ctx, &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "hand-made"},
		Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: "192.0.2.60"}},
			Ports: []corev1.EndpointPort{{Port: 53}}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	stop()
	if err := core.Services("default").Delete(ctx, "gone", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := core.Endpoints("default").Get(ctx, "gone", metav1.GetOptions{}); err != nil {
		t.Fatalf("endpoints of the deleted service before a controller runs: %v", err)
	}
	runEndpointsController(t, srv)
	waitEndpoints(t, ctx, srv, "gone", "<absent>")
	waitEndpoints(t, ctx, srv, "hand-made", "?=192.0.2.60|:/53")
}

// A service with more than 1000 ready pods has Endpoints of 1000
// addresses, marked over capacity until it is back within the limit.
func TestEndpointsOverCapacity(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	runEndpointsController(t, srv)
	app := map[string]string{"app": "big"}
	const n = endpoints.MaxAddresses + 1
	var batch []runtime.Object
	for i := 0; i < n; i++ {
		p := endpointsPod(fmt.Sprintf("big-%d", i), app, 8080)
		p.Namespace = "default"
		if err := api.Pods.BeforeCreate(p); err != nil {
			t.Fatal(err)
		}
		p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: fmt.Sprintf("10.3.%d.%d", i/250, i%250+1),
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
		batch = append(batch, p)
		if len(batch) == 50 || i == n-1 {
			if err := srv.Store.CreateMany(ctx, api.Pods.Storage, batch); err != nil {
				t.Fatal(err)
			}
			batch = nil
		}
	}
	if _, err := srv.Client.CoreV1().Services("default").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "big"},
		Spec:       corev1.ServiceSpec{Selector: app, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	count := func(want int, truncated bool) func() bool {
		return func() bool {
			ep, err := srv.Client.CoreV1().Endpoints("default").Get(ctx, "big", metav1.GetOptions{})
			if err != nil {
				return false
			}
			got := 0
			for _, s := range ep.Subsets {
				got += len(s.Addresses) + len(s.NotReadyAddresses)
			}
			return got == want && (ep.Annotations["endpoints.kubernetes.io/over-capacity"] == "truncated") == truncated
		}
	}
	waitUntil(t, 30*time.Second, count(endpoints.MaxAddresses, true))
	if err := srv.Client.CoreV1().Pods("default").Delete(ctx, "big-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, count(endpoints.MaxAddresses, false))
}

// Pods run by a hollow kubelet are listed with their node, and kubectl
// get endpoints shows their addresses.
func TestEndpointsOfHollowPodsInKubectl(t *testing.T) {
	bin, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not installed (not on PATH)")
	}
	srv, ctx := apiservertest.Start(t), testCtx(t)
	core := srv.Client.CoreV1()
	kctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	t.Cleanup(func() { stop(); wg.Wait() })
	cfg := kubelet.NodeConfig{Store: srv.Store, Admission: admissiontest.Follow(t, srv.Store), Name: "hollow-ep", NodeIP: "192.0.2.20", RootDir: t.TempDir(), Version: "test", Log: testlog.New(t)}
	wg.Add(1)
	go func() { defer wg.Done(); kubelet.RunHollowNode(kctx, cfg) }()
	runEndpointsController(t, srv)

	app := map[string]string{"app": "hollow"}
	for i := 0; i < 2; i++ {
		p := endpointsPod(fmt.Sprintf("h%d", i), app, 8080)
		p.Spec.NodeName = "hollow-ep"
		if _, err := core.Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := core.Services("default").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "hollow"},
		Spec:       corev1.ServiceSpec{Selector: app, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromString("http")}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var ep *corev1.Endpoints
	waitUntil(t, 30*time.Second, func() bool {
		ep, err = core.Endpoints("default").Get(ctx, "hollow", metav1.GetOptions{})
		return err == nil && len(ep.Subsets) == 1 && len(ep.Subsets[0].Addresses) == 2
	})
	var want []string
	for _, a := range ep.Subsets[0].Addresses {
		p, err := core.Pods("default").Get(ctx, a.TargetRef.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if a.IP != p.Status.PodIP || a.NodeName == nil || *a.NodeName != "hollow-ep" {
			t.Errorf("address %+v of pod with IP %s", a, p.Status.PodIP)
		}
		want = append(want, a.IP+":8080")
	}

	kc := apiservertest.Kubeconfig(t, srv.URL)
	cmd := exec.CommandContext(ctx, bin, "get", "endpoints", "hollow")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kc, "HOME="+filepath.Dir(kc))
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubectl get endpoints: %v\n%s", err, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "NAME ENDPOINTS AGE" {
		t.Fatalf("kubectl get endpoints:\n%s", out.String())
	}
	row := strings.Fields(lines[1])
	if len(row) != 3 || row[0] != "hollow" || row[1] != strings.Join(want, ",") {
		t.Errorf("kubectl get endpoints row %q, want hollow %s <age>", lines[1], strings.Join(want, ","))
	}
}
