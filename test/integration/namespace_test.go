package integration

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/shepherd-lab/shepherd/admission/admissiontest"
	"github.com/shepherd-lab/shepherd/apiserver/apiservertest"
	"github.com/shepherd-lab/shepherd/internal/testlog"
	"github.com/shepherd-lab/shepherd/kubelet"
)

// Deleting a namespace removes everything in it (a bound pod once its
// kubelet has stopped it), then the namespace itself.
func TestNamespaceDeletionRemovesContent(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	runLifecycleControllers(t, srv)
	kctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	t.Cleanup(func() { stop(); wg.Wait() })
	cfg := kubelet.NodeConfig{Store: srv.Store, Admission: admissiontest.Follow(t, srv.Store), Name: "ns-node", NodeIP: "192.0.2.40", RootDir: t.TempDir(), Version: "test", Log: testlog.New(t)}
	wg.Add(1)
	go func() { defer wg.Done(); kubelet.RunHollowNode(kctx, cfg) }()

	core := srv.Client.CoreV1()
	const ns = "doomed"
	if _, err := core.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := core.ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm"}, Data: map[string]string{"k": "v"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := core.Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s"}, StringData: map[string]string{"k": "v"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := core.Services(ns).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "svc"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "x"}, Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := newPod("bound", map[string]string{"app": "x"})
	pod.Spec.NodeName = "ns-node"
	if _, err := core.Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, func() bool {
		p, err := core.Pods(ns).Get(ctx, "bound", metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning
	})

	if err := core.Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitNotFound(t, "namespace", func() error {
		_, err := core.Namespaces().Get(ctx, ns, metav1.GetOptions{})
		return err
	})
	for what, get := range map[string]func() error{
		"configmap": func() error { _, err := core.ConfigMaps(ns).Get(ctx, "cm", metav1.GetOptions{}); return err },
		"secret":    func() error { _, err := core.Secrets(ns).Get(ctx, "s", metav1.GetOptions{}); return err },
		"service":   func() error { _, err := core.Services(ns).Get(ctx, "svc", metav1.GetOptions{}); return err },
		"pod":       func() error { _, err := core.Pods(ns).Get(ctx, "bound", metav1.GetOptions{}); return err },
	} {
		if err := get(); !apierrors.IsNotFound(err) {
			t.Errorf("%s of the deleted namespace: %v", what, err)
		}
	}

	if kubectl, err := exec.LookPath("kubectl"); err == nil {
		kc := apiservertest.Kubeconfig(t, srv.URL)
		cmd := exec.CommandContext(ctx, kubectl, "get", "ns", "-o", "name")
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kc, "HOME="+filepath.Dir(kc))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl get ns: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "namespace/default") || strings.Contains(string(out), "namespace/"+ns) {
			t.Errorf("kubectl get ns after the deletion:\n%s", out)
		}
	}
}

// A namespace whose content cannot all go yet stays Terminating and says
// what remains; it goes once that content does.
func TestNamespaceDeletionWaitsForContent(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	runLifecycleControllers(t, srv)
	core := srv.Client.CoreV1()
	const ns = "stuck"
	if _, err := core.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	held := newPod("held", nil)
	held.Finalizers = []string{"example.com/hold"}
	if _, err := core.Pods(ns).Create(ctx, held, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := core.ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := core.Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	condition := func(n *corev1.Namespace, typ corev1.NamespaceConditionType) *corev1.NamespaceCondition {
		for i := range n.Status.Conditions {
			if n.Status.Conditions[i].Type == typ {
				return &n.Status.Conditions[i]
			}
		}
		return nil
	}
	var got *corev1.Namespace
	waitUntil(t, 30*time.Second, func() bool {
		n, err := core.Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			return false
		}
		got = n
		c := condition(n, corev1.NamespaceContentRemaining)
		return c != nil && c.Status == corev1.ConditionTrue
	})
	if got.Status.Phase != corev1.NamespaceTerminating {
		t.Errorf("phase %q, want Terminating", got.Status.Phase)
	}
	if c := condition(got, corev1.NamespaceContentRemaining); c.Reason != "SomeResourcesRemain" || c.Message != "Some resources are remaining: pods has 1 resource instances" {
		t.Errorf("NamespaceContentRemaining: %+v", c)
	}
	if c := condition(got, corev1.NamespaceFinalizersRemaining); c == nil || c.Status != corev1.ConditionTrue ||
		c.Message != "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances" {
		t.Errorf("NamespaceFinalizersRemaining: %+v", c)
	}
	if c := condition(got, corev1.NamespaceDeletionContentFailure); c == nil || c.Status != corev1.ConditionFalse {
		t.Errorf("NamespaceDeletionContentFailure: %+v", c)
	}
	if _, err := core.ConfigMaps(ns).Get(ctx, "cm", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("configmap of the terminating namespace: %v", err)
	}
	p, err := core.Pods(ns).Get(ctx, "held", metav1.GetOptions{})
	if err != nil || p.DeletionTimestamp == nil {
		t.Fatalf("held pod: %v %+v", err, p)
	}

	// Releasing the pod lets it, then the namespace, go.
	p.Finalizers = nil
	if _, err := core.Pods(ns).Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitNotFound(t, "namespace", func() error {
		_, err := core.Namespaces().Get(ctx, ns, metav1.GetOptions{})
		return err
	})
}

// The finalize subresource, as the conformance test "should apply a
// finalizer to a Namespace" uses it through client-go: a finalizer added
// and removed again with Namespaces().Finalize; an update of the main
// resource leaves spec.finalizers alone.
func TestNamespaceFinalize(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	nss := srv.Client.CoreV1().Namespaces()
	const fake = corev1.FinalizerName("e2e.example.com/fakeFinalizer")
	ns, err := nss.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "fin"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ns.Spec.Finalizers, []corev1.FinalizerName{corev1.FinalizerKubernetes}) {
		t.Fatalf("a new namespace's finalizers: %v", ns.Spec.Finalizers)
	}

	ns.Spec.Finalizers = append(ns.Spec.Finalizers, fake)
	ns.Labels["finalized"] = "once"
	out, err := nss.Finalize(ctx, ns, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(out.Spec.Finalizers, []corev1.FinalizerName{corev1.FinalizerKubernetes, fake}) || out.Labels["finalized"] != "once" {
		t.Fatalf("finalize answered finalizers %v labels %v", out.Spec.Finalizers, out.Labels)
	}
	if got, err := nss.Get(ctx, "fin", metav1.GetOptions{}); err != nil || !slices.Contains(got.Spec.Finalizers, fake) {
		t.Fatalf("after finalize: %v, %+v", err, got)
	}

	// A plain update cannot drop it.
	out.Spec.Finalizers = nil
	if out, err = nss.Update(ctx, out, metav1.UpdateOptions{}); err != nil || !slices.Contains(out.Spec.Finalizers, fake) {
		t.Fatalf("update without finalizers: %v, finalizers %v", err, out.Spec.Finalizers)
	}

	// Finalize removes it again (and keeps the status it was not given).
	out.Spec.Finalizers = []corev1.FinalizerName{corev1.FinalizerKubernetes}
	out.Status = corev1.NamespaceStatus{}
	if out, err = nss.Finalize(ctx, out, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(out.Spec.Finalizers, []corev1.FinalizerName{corev1.FinalizerKubernetes}) || out.Status.Phase != corev1.NamespaceActive {
		t.Fatalf("after removing the finalizer: finalizers %v phase %q", out.Spec.Finalizers, out.Status.Phase)
	}

	// A stale resourceVersion conflicts; an unqualified finalizer is refused
	// with its field.
	stale := out.DeepCopy()
	stale.ResourceVersion = ns.ResourceVersion
	if _, err := nss.Finalize(ctx, stale, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("finalize with a stale resourceVersion: %v, want 409", err)
	}
	bad := out.DeepCopy()
	bad.Spec.Finalizers = []corev1.FinalizerName{"fake"}
	_, err = nss.Finalize(ctx, bad, metav1.UpdateOptions{})
	var status apierrors.APIStatus
	if !apierrors.IsInvalid(err) || !errors.As(err, &status) || status.Status().Details == nil ||
		len(status.Status().Details.Causes) != 1 || status.Status().Details.Causes[0].Field != "spec.finalizers[0]" {
		t.Errorf("finalize with an unqualified finalizer: %v, want 422 on spec.finalizers[0]", err)
	}
	// Only PUT is served there, and only namespaces have it.
	rest := srv.Client.CoreV1().RESTClient()
	if err := rest.Get().AbsPath("/api/v1/namespaces/fin/finalize").Do(ctx).Error(); !apierrors.IsMethodNotSupported(err) {
		t.Errorf("GET namespaces/fin/finalize: %v, want 405", err)
	}
	if err := rest.Put().AbsPath("/api/v1/namespaces/default/configmaps/x/finalize").Body([]byte(`{}`)).Do(ctx).Error(); !apierrors.IsNotFound(err) {
		t.Errorf("PUT configmaps/x/finalize: %v, want 404", err)
	}
	if err := rest.Put().AbsPath("/api/v1/namespaces/nosuch/finalize").
		Body([]byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"nosuch"}}`)).Do(ctx).Error(); !apierrors.IsNotFound(err) {
		t.Errorf("finalize of a missing namespace: %v, want 404", err)
	}
}

// A terminating namespace goes once finalize removes its last finalizer and
// no metadata finalizer holds it (here without a namespace controller, as
// a user unsticking a namespace with `kubectl replace --raw
// .../finalize` would); a metadata finalizer keeps it until it goes too.
func TestNamespaceFinalizeDeletes(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	nss := srv.Client.CoreV1().Namespaces()
	for _, name := range []string{"unstick", "held"} {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if name == "held" {
			ns.Finalizers = []string{"example.com/hold"}
		}
		if _, err := nss.Create(ctx, ns, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := nss.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		ns, err := nss.Get(ctx, name, metav1.GetOptions{})
		if err != nil || ns.Status.Phase != corev1.NamespaceTerminating {
			t.Fatalf("%s after delete: %v, %+v", name, err, ns)
		}
		ns.Spec.Finalizers = nil
		if _, err := nss.Finalize(ctx, ns, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("finalize %s: %v", name, err)
		}
	}
	if _, err := nss.Get(ctx, "unstick", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a terminating namespace without finalizers left: %v, want NotFound", err)
	}
	held, err := nss.Get(ctx, "held", metav1.GetOptions{})
	if err != nil || len(held.Spec.Finalizers) != 0 || held.DeletionTimestamp == nil {
		t.Fatalf("a terminating namespace with a metadata finalizer after finalize: %v, %+v", err, held)
	}
	held.Finalizers = nil
	if _, err := nss.Update(ctx, held, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := nss.Get(ctx, "held", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("once its metadata finalizer went too: %v, want NotFound", err)
	}
}

// Discovery lists namespaces/finalize with the verb update, in the legacy
// and the aggregated documents, and `kubectl get --raw /api/v1` shows it.
func TestNamespaceFinalizeDiscovery(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	list, err := srv.Client.Discovery().ServerResourcesForGroupVersion("v1")
	if err != nil {
		t.Fatal(err)
	}
	var fin *metav1.APIResource
	for i, r := range list.APIResources {
		if r.Name == "namespaces/finalize" {
			fin = &list.APIResources[i]
		}
	}
	if fin == nil || fin.Kind != "Namespace" || fin.Namespaced || !slices.Equal([]string(fin.Verbs), []string{"update"}) {
		t.Fatalf("namespaces/finalize in /api/v1: %+v", fin)
	}
	_, all, err := srv.Client.Discovery().ServerGroupsAndResources() // aggregated
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, l := range all {
		for _, r := range l.APIResources {
			found = found || (l.GroupVersion == "v1" && r.Name == "namespaces/finalize" && slices.Equal([]string(r.Verbs), []string{"update"}))
		}
	}
	if !found {
		t.Error("aggregated discovery lacks namespaces/finalize with verb update")
	}
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not on PATH; the discovery documents were checked")
	}
	kc := apiservertest.Kubeconfig(t, srv.URL)
	cmd := exec.CommandContext(ctx, kubectl, "get", "--raw", "/api/v1")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kc, "HOME="+filepath.Dir(kc))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl get --raw /api/v1: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), `{"name":"namespaces/finalize","singularName":"","namespaced":false,"kind":"Namespace","verbs":["update"]}`) {
		t.Errorf("kubectl get --raw /api/v1 shows no namespaces/finalize:\n%s", out)
	}
}

// The conformance test "should apply changes to a namespace status": a
// merge patch of the status subresource carrying an annotation and a
// condition sets both, and an UpdateStatus appends a condition.
func TestNamespaceStatus(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	nss := srv.Client.CoreV1().Namespaces()
	if _, err := nss.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "st"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	dc, err := dynamic.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	u, err := dc.Resource(corev1.SchemeGroupVersion.WithResource("namespaces")).Get(ctx, "st", metav1.GetOptions{}, "status")
	if err != nil {
		t.Fatal(err)
	}
	if phase, _, _ := unstructured.NestedString(u.Object, "status", "phase"); phase != string(corev1.NamespaceActive) {
		t.Fatalf("status phase %q", phase)
	}
	patched, err := nss.Patch(ctx, "st", types.MergePatchType,
		[]byte(`{"metadata":{"annotations":{"e2e-patched-ns-status":"st"}},"status":{"conditions":[{"type":"StatusPatch","status":"True","reason":"E2E","message":"Patched by an e2e test"}]}}`),
		metav1.PatchOptions{}, "status")
	if err != nil {
		t.Fatal(err)
	}
	if patched.Annotations["e2e-patched-ns-status"] != "st" {
		t.Errorf("status patch dropped the annotation: %v", patched.Annotations)
	}
	owned := false // the annotation is the status writer's in managedFields
	for _, mf := range patched.ManagedFields {
		owned = owned || (mf.Subresource == "status" && mf.FieldsV1 != nil && strings.Contains(string(mf.FieldsV1.Raw), "e2e-patched-ns-status"))
	}
	if !owned {
		t.Errorf("managedFields do not give the annotation to the status writer: %+v", patched.ManagedFields)
	}
	if n := len(patched.Status.Conditions); n == 0 || patched.Status.Conditions[n-1].Reason != "E2E" || patched.Status.Conditions[n-1].Message != "Patched by an e2e test" {
		t.Errorf("status patch conditions %+v", patched.Status.Conditions)
	}
	patched.Status.Conditions = append(patched.Status.Conditions, corev1.NamespaceCondition{
		Type: "StatusUpdate", Status: corev1.ConditionTrue, Reason: "E2E", Message: "Updated by an e2e test"})
	updated, err := nss.UpdateStatus(ctx, patched, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(updated.Status.Conditions); n != 2 || updated.Status.Conditions[1].Type != "StatusUpdate" || updated.Status.Conditions[1].Message != "Updated by an e2e test" {
		t.Errorf("status update conditions %+v", updated.Status.Conditions)
	}
	// A status write changes no spec.
	updated.Spec.Finalizers = nil
	if updated, err = nss.UpdateStatus(ctx, updated, metav1.UpdateOptions{}); err != nil || len(updated.Spec.Finalizers) != 1 {
		t.Errorf("status update without finalizers: %v, finalizers %v", err, updated.Spec.Finalizers)
	}
}
