package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/shepherd-lab/shepherd/admission/admissiontest"
	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/apiserver/apiservertest"
	"github.com/shepherd-lab/shepherd/controller"
	"github.com/shepherd-lab/shepherd/controller/garbagecollector"
	"github.com/shepherd-lab/shepherd/controller/namespace"
	"github.com/shepherd-lab/shepherd/events"
	"github.com/shepherd-lab/shepherd/internal/testlog"
)

// runLifecycleControllers runs the garbage collector and the namespace
// controller over every served resource, as the controller manager does,
// until the test ends.
func runLifecycleControllers(t *testing.T, srv *apiservertest.Server) {
	t.Helper()
	log := testlog.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	adm := admissiontest.Follow(t, srv.Store)
	rec := events.NewRecorder(srv.Store, adm, "controller-manager", 0, log)
	c := &controller.Context{
		Store: srv.Store, Informers: controller.NewInformers(srv.Store, log), Events: rec, Log: log,
		QueueMetrics: controller.NewQueueMetrics(prometheus.NewRegistry()), Registry: prometheus.NewRegistry(),
		Admission: adm,
	}
	ctrls := []controller.Controller{garbagecollector.New(c, api.All), namespace.New(c, api.All)}
	c.Informers.Start(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); rec.Run(ctx) }()
	for _, ctrl := range ctrls {
		wg.Add(1)
		go func() { defer wg.Done(); ctrl.Run(ctx, 2) }()
	}
	t.Cleanup(func() { cancel(); wg.Wait(); c.Informers.Wait() })
}

// ownerChain is a Deployment owning a ReplicaSet owning pods, made by hand.
type ownerChain struct {
	d    *appsv1.Deployment
	rs   *appsv1.ReplicaSet
	pods []*corev1.Pod
}

func gcOwnerRef(apiVersion, kind, name string, uid types.UID) metav1.OwnerReference {
	yes := true
	return metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: name, UID: uid, Controller: &yes, BlockOwnerDeletion: &yes}
}

// makeOwnerChain creates deployment name, its replica set and n pods in ns; a
// pod given finalizers keeps them.
func makeOwnerChain(t *testing.T, ctx context.Context, cs kubernetes.Interface, ns, name string, n int, podFinalizers ...string) ownerChain {
	t.Helper()
	labels := map[string]string{"app": name}
	tmpl := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
	one := int32(n)
	d, err := cs.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: tmpl},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := cs.AppsV1().ReplicaSets(ns).Create(ctx, &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-rs", Labels: labels,
			OwnerReferences: []metav1.OwnerReference{gcOwnerRef("apps/v1", "Deployment", d.Name, d.UID)}},
		Spec: appsv1.ReplicaSetSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: tmpl},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := ownerChain{d: d, rs: rs}
	for i := 0; i < n; i++ {
		p := newPod(fmt.Sprintf("%s-rs-%d", name, i), labels)
		p.OwnerReferences = []metav1.OwnerReference{gcOwnerRef("apps/v1", "ReplicaSet", rs.Name, rs.UID)}
		if i == 0 {
			p.Finalizers = podFinalizers
		}
		p, err := cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		c.pods = append(c.pods, p)
	}
	return c
}

// waitNotFound waits until get reports the object missing.
func waitNotFound(t *testing.T, what string, get func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := get()
		if apierrors.IsNotFound(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still there (last error %v)", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c ownerChain) waitAllGone(t *testing.T, ctx context.Context, cs kubernetes.Interface, ns string) {
	t.Helper()
	waitNotFound(t, "deployment", func() error {
		_, err := cs.AppsV1().Deployments(ns).Get(ctx, c.d.Name, metav1.GetOptions{})
		return err
	})
	waitNotFound(t, "replica set", func() error {
		_, err := cs.AppsV1().ReplicaSets(ns).Get(ctx, c.rs.Name, metav1.GetOptions{})
		return err
	})
	for _, p := range c.pods {
		waitNotFound(t, "pod "+p.Name, func() error {
			_, err := cs.CoreV1().Pods(ns).Get(ctx, p.Name, metav1.GetOptions{})
			return err
		})
	}
}

func propagation(policy metav1.DeletionPropagation) metav1.DeleteOptions {
	return metav1.DeleteOptions{PropagationPolicy: &policy}
}

// deleteDeployment deletes a deployment through the dynamic client, which
// sends DeleteOptions as v1 (the typed apps client sends them as apps/v1,
// which the apiserver does not decode yet).
func deleteDeployment(t *testing.T, ctx context.Context, srv *apiservertest.Server, name string, opts metav1.DeleteOptions) {
	t.Helper()
	dc, err := dynamic.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	if err := dc.Resource(appsv1.SchemeGroupVersion.WithResource("deployments")).Namespace("default").Delete(ctx, name, opts); err != nil {
		t.Fatal(err)
	}
}

// Deleting an owner in the background removes it at once; its dependents,
// and theirs, follow.
func TestGarbageCollectorBackground(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	runLifecycleControllers(t, srv)
	cs := srv.Client
	c := makeOwnerChain(t, ctx, cs, "default", "bg", 2)
	deleteDeployment(t, ctx, srv, "bg", metav1.DeleteOptions{})
	if _, err := cs.AppsV1().Deployments("default").Get(ctx, "bg", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("deployment after a background delete: %v", err)
	}
	c.waitAllGone(t, ctx, cs, "default")
}

// Deleting an owner in the foreground keeps it, being deleted, until every
// dependent blocking it is gone; a dependent held by a finalizer holds the
// whole ownerChain.
func TestGarbageCollectorForeground(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	runLifecycleControllers(t, srv)
	cs := srv.Client
	c := makeOwnerChain(t, ctx, cs, "default", "fg", 2, "example.com/hold")
	deleteDeployment(t, ctx, srv, "fg", propagation(metav1.DeletePropagationForeground))
	// The free pod goes; the held one is marked; the ownerChain above waits.
	waitNotFound(t, "pod without finalizer", func() error {
		_, err := cs.CoreV1().Pods("default").Get(ctx, c.pods[1].Name, metav1.GetOptions{})
		return err
	})
	waitUntil(t, 30*time.Second, func() bool {
		p, err := cs.CoreV1().Pods("default").Get(ctx, c.pods[0].Name, metav1.GetOptions{})
		return err == nil && p.DeletionTimestamp != nil
	})
	d, err := cs.AppsV1().Deployments("default").Get(ctx, "fg", metav1.GetOptions{})
	if err != nil || d.DeletionTimestamp == nil {
		t.Fatalf("deployment while a dependent remains: %v, %+v", err, d)
	}
	rs, err := cs.AppsV1().ReplicaSets("default").Get(ctx, c.rs.Name, metav1.GetOptions{})
	if err != nil || rs.DeletionTimestamp == nil || !hasString(rs.Finalizers, metav1.FinalizerDeleteDependents) {
		t.Fatalf("replica set while its pod remains: %v, %+v", err, rs)
	}
	// Releasing the pod lets the whole ownerChain go.
	p, err := cs.CoreV1().Pods("default").Get(ctx, c.pods[0].Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Finalizers = nil
	if _, err := cs.CoreV1().Pods("default").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.waitAllGone(t, ctx, cs, "default")
}

// Deleting an owner with orphan propagation removes only the owner; its
// dependents stay, without the reference to it.
func TestGarbageCollectorOrphan(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	runLifecycleControllers(t, srv)
	cs := srv.Client
	c := makeOwnerChain(t, ctx, cs, "default", "or", 2)
	deleteDeployment(t, ctx, srv, "or", propagation(metav1.DeletePropagationOrphan))
	waitNotFound(t, "deployment", func() error {
		_, err := cs.AppsV1().Deployments("default").Get(ctx, "or", metav1.GetOptions{})
		return err
	})
	rs, err := cs.AppsV1().ReplicaSets("default").Get(ctx, c.rs.Name, metav1.GetOptions{})
	if err != nil || len(rs.OwnerReferences) != 0 {
		t.Fatalf("orphaned replica set: %v, owners %+v", err, rs.OwnerReferences)
	}
	expectOrphanedPods(t, ctx, cs, c)

	// The legacy orphanDependents option does the same.
	c = makeOwnerChain(t, ctx, cs, "default", "legacy", 1)
	yes := true
	deleteDeployment(t, ctx, srv, "legacy", metav1.DeleteOptions{OrphanDependents: &yes})
	waitNotFound(t, "deployment", func() error {
		_, err := cs.AppsV1().Deployments("default").Get(ctx, "legacy", metav1.GetOptions{})
		return err
	})
	if rs, err := cs.AppsV1().ReplicaSets("default").Get(ctx, c.rs.Name, metav1.GetOptions{}); err != nil || len(rs.OwnerReferences) != 0 {
		t.Fatalf("replica set orphaned by orphanDependents: %v, %+v", err, rs)
	}
	expectOrphanedPods(t, ctx, cs, c)
}

func expectOrphanedPods(t *testing.T, ctx context.Context, cs kubernetes.Interface, c ownerChain) {
	t.Helper()
	for _, p := range c.pods {
		got, err := cs.CoreV1().Pods(p.Namespace).Get(ctx, p.Name, metav1.GetOptions{})
		if err != nil || got.DeletionTimestamp != nil || len(got.OwnerReferences) != 1 || got.OwnerReferences[0].UID != c.rs.UID {
			t.Fatalf("pod %s of the orphaned replica set: %v, %+v", p.Name, err, got)
		}
	}
}

// A dependent with two owners outlives the first to go, and goes with the
// second.
func TestGarbageCollectorTwoOwners(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	runLifecycleControllers(t, srv)
	cms := srv.Client.CoreV1().ConfigMaps("default")
	var owners []*corev1.ConfigMap
	for _, n := range []string{"owner-a", "owner-b"} {
		o, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		owners = append(owners, o)
	}
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "shared", OwnerReferences: []metav1.OwnerReference{
		{APIVersion: "v1", Kind: "ConfigMap", Name: "owner-a", UID: owners[0].UID},
		{APIVersion: "v1", Kind: "ConfigMap", Name: "owner-b", UID: owners[1].UID},
	}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cms.Delete(ctx, "owner-a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// The collector drops the reference to the owner that is gone.
	waitUntil(t, 30*time.Second, func() bool {
		cm, err := cms.Get(ctx, "shared", metav1.GetOptions{})
		return err == nil && len(cm.OwnerReferences) == 1 && cm.OwnerReferences[0].UID == owners[1].UID
	})
	if cm, err := cms.Get(ctx, "shared", metav1.GetOptions{}); err != nil || cm.DeletionTimestamp != nil {
		t.Fatalf("dependent with an owner left: %v %+v", err, cm)
	}
	if err := cms.Delete(ctx, "owner-b", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitNotFound(t, "dependent of two deleted owners", func() error {
		_, err := cms.Get(ctx, "shared", metav1.GetOptions{})
		return err
	})
}

// An object created naming an owner that does not exist is collected.
func TestGarbageCollectorMissingOwner(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	runLifecycleControllers(t, srv)
	cms := srv.Client.CoreV1().ConfigMaps("default")
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "stray", OwnerReferences: []metav1.OwnerReference{
		{APIVersion: "v1", Kind: "ConfigMap", Name: "never", UID: "6a1b8a36-0000-4000-8000-000000000000"},
	}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// An owner of a kind the collector does not serve keeps its dependent.
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kept", OwnerReferences: []metav1.OwnerReference{
		{APIVersion: "example.com/v1", Kind: "Widget", Name: "w", UID: "6a1b8a36-0000-4000-8000-000000000001"},
	}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitNotFound(t, "configmap with a missing owner", func() error {
		_, err := cms.Get(ctx, "stray", metav1.GetOptions{})
		return err
	})
	if _, err := cms.Get(ctx, "kept", metav1.GetOptions{}); err != nil {
		t.Fatalf("configmap with an owner of unknown kind: %v", err)
	}
}

// kubectl delete --cascade=background|foreground|orphan.
func TestGarbageCollectorKubectlCascade(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not on PATH")
	}
	srv, ctx := apiservertest.Start(t), testCtx(t)
	runLifecycleControllers(t, srv)
	cs := srv.Client
	kc := apiservertest.Kubeconfig(t, srv.URL)
	run := func(args ...string) {
		t.Helper()
		cmd := exec.CommandContext(ctx, kubectl, args...)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kc, "HOME="+filepath.Dir(kc))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	t.Run("background", func(t *testing.T) {
		c := makeOwnerChain(t, ctx, cs, "default", "kbg", 1)
		run("delete", "deployment", "kbg", "--cascade=background")
		c.waitAllGone(t, ctx, cs, "default")
	})
	t.Run("foreground", func(t *testing.T) {
		c := makeOwnerChain(t, ctx, cs, "default", "kfg", 1)
		// kubectl waits for the deployment to be gone: its dependents went first.
		run("delete", "deployment", "kfg", "--cascade=foreground")
		c.waitAllGone(t, ctx, cs, "default")
	})
	t.Run("orphan", func(t *testing.T) {
		c := makeOwnerChain(t, ctx, cs, "default", "kor", 1)
		run("delete", "deployment", "kor", "--cascade=orphan")
		waitNotFound(t, "deployment", func() error {
			_, err := cs.AppsV1().Deployments("default").Get(ctx, "kor", metav1.GetOptions{})
			return err
		})
		rs, err := cs.AppsV1().ReplicaSets("default").Get(ctx, c.rs.Name, metav1.GetOptions{})
		if err != nil || len(rs.OwnerReferences) != 0 {
			t.Fatalf("replica set after kubectl --cascade=orphan: %v, %+v", err, rs)
		}
		expectOrphanedPods(t, ctx, cs, c)
	})
}

func hasString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// An owner must be in its dependent's namespace or cluster-scoped: a
// dependent naming an owner in another namespace has no owner there and
// is collected; a cluster-scoped dependent naming a namespaced owner can
// never be resolved and is kept. Both are reported (OwnerRefInvalidNamespace).
func TestGarbageCollectorInvalidNamespaceOwners(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	runLifecycleControllers(t, srv)
	core := srv.Client.CoreV1()
	owner, err := core.ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owner"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ref := []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "owner", UID: owner.UID}}
	if _, err := core.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "other"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := core.ConfigMaps("other").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "elsewhere", OwnerReferences: ref}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := core.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "owned-ns", OwnerReferences: ref}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitNotFound(t, "dependent of an owner in another namespace", func() error {
		_, err := core.ConfigMaps("other").Get(ctx, "elsewhere", metav1.GetOptions{})
		return err
	})
	reported := func(ns, name string) bool {
		evs, err := core.Events(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false
		}
		for _, e := range evs.Items {
			if e.Reason == "OwnerRefInvalidNamespace" && e.InvolvedObject.Name == name && e.Type == corev1.EventTypeWarning {
				return true
			}
		}
		return false
	}
	waitUntil(t, 30*time.Second, func() bool { return reported("other", "elsewhere") && reported("default", "owned-ns") })
	if n, err := core.Namespaces().Get(ctx, "owned-ns", metav1.GetOptions{}); err != nil || n.DeletionTimestamp != nil {
		t.Fatalf("cluster-scoped dependent of a namespaced owner: %v %+v", err, n)
	}
	if _, err := core.ConfigMaps("default").Get(ctx, "owner", metav1.GetOptions{}); err != nil {
		t.Fatalf("owner: %v", err)
	}
}

// The conformance test "should not be blocked by dependency circle": pod1
// owned by pod3, pod2 by pod1, pod3 by pod2, each reference a blocking
// controller reference set by a strategic merge patch; deleting pod1 in the
// foreground (with a UID precondition) deletes all three.
func TestGarbageCollectorDependencyCircle(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	runLifecycleControllers(t, srv)
	pods := srv.Client.CoreV1().Pods("default")
	var uid [4]types.UID
	for i := 1; i <= 3; i++ {
		p := newPod(fmt.Sprintf("pod%d", i), nil)
		p.Spec.TerminationGracePeriodSeconds = new(int64)
		p, err := pods.Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		uid[i] = p.UID
	}
	addRef := func(name, owner string, ownerUID types.UID) {
		patch := fmt.Sprintf(`{"metadata":{"ownerReferences":[{"apiVersion":"v1","kind":"Pod","name":%q,"uid":%q,"controller":true,"blockOwnerDeletion":true}]}}`, owner, ownerUID)
		p, err := pods.Patch(ctx, name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.OwnerReferences) != 1 || p.OwnerReferences[0].UID != ownerUID {
			t.Fatalf("%s owner references after the patch: %+v", name, p.OwnerReferences)
		}
	}
	addRef("pod1", "pod3", uid[3])
	addRef("pod2", "pod1", uid[1])
	addRef("pod3", "pod2", uid[2])
	opts := propagation(metav1.DeletePropagationForeground)
	opts.Preconditions = metav1.NewUIDPreconditions(string(uid[1]))
	if err := pods.Delete(ctx, "pod1", opts); err != nil {
		t.Fatal(err)
	}
	waitNoPods(t, ctx, srv.Client, "default")
}

// waitNoPods waits until ns has no pod left, and reports those left when
// it does not happen.
func waitNoPods(t *testing.T, ctx context.Context, cs kubernetes.Interface, ns string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err == nil && len(list.Items) == 0 {
			return
		}
		if time.Now().After(deadline) {
			var left []string
			if list != nil {
				for _, p := range list.Items {
					left = append(left, fmt.Sprintf("%s (deleting %v, finalizers %v, owners %+v)", p.Name, p.DeletionTimestamp != nil, p.Finalizers, p.OwnerReferences))
				}
			}
			t.Fatalf("pods left: %v (last error %v)", left, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A cycle whose members are all deleted in the foreground by the user
// (two config maps owning each other, a third owning itself) does not
// wait on itself: every member goes.
func TestGarbageCollectorForegroundCycles(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	runLifecycleControllers(t, srv)
	cms := srv.Client.CoreV1().ConfigMaps("default")
	create := func(name string) *corev1.ConfigMap {
		cm, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return cm
	}
	own := func(cm *corev1.ConfigMap, owner *corev1.ConfigMap) {
		cm, err := cms.Get(ctx, cm.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cm.OwnerReferences = []metav1.OwnerReference{gcOwnerRef("v1", "ConfigMap", owner.Name, owner.UID)}
		if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	a, b, self := create("cycle-a"), create("cycle-b"), create("cycle-self")
	own(a, b)
	own(b, a)
	own(self, self)
	for _, name := range []string{"cycle-a", "cycle-b", "cycle-self"} {
		if err := cms.Delete(ctx, name, propagation(metav1.DeletePropagationForeground)); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"cycle-a", "cycle-b", "cycle-self"} {
		waitNotFound(t, "config map "+name, func() error {
			_, err := cms.Get(ctx, name, metav1.GetOptions{})
			return err
		})
	}
}
