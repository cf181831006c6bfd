package api

import (
	"errors"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestEveryResourceIsComplete(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range All {
		if r.Storage == nil || r.Storage.New == nil || r.Storage.NewList == nil {
			t.Fatalf("%s has no storage description", r.Plural)
		}
		if _, ok := r.New().(interface{ GetName() string }); !ok {
			t.Fatalf("%s objects have no metadata", r.Plural)
		}
		if gvks, _, err := Scheme.ObjectKinds(r.NewList()); err != nil || gvks[0].Kind != r.ListKind {
			t.Fatalf("%s list kind %v %v, want %s", r.Plural, gvks, err, r.ListKind)
		}
		if seen[r.Storage.Name] {
			t.Fatalf("two resources store under %s", r.Storage.Name)
		}
		seen[r.Storage.Name] = true
		if Lookup(r.GroupVersionResource()) != r {
			t.Fatalf("Lookup(%s) does not find it", r.GroupVersionResource())
		}
	}
	if Lookup(schema.GroupVersionResource{Version: "v1", Resource: "gizmos"}) != nil {
		t.Fatal("Lookup found an unserved resource")
	}
}

func TestBeforeCreateFillsServerMetadata(t *testing.T) {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "web-", Namespace: "default"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "1.2.3.4"},
	}
	if err := Pods.BeforeCreate(p); err != nil {
		t.Fatal(err)
	}
	if len(p.Name) != len("web-")+5 || p.UID == "" || p.CreationTimestamp.IsZero() || p.Generation != 1 {
		t.Fatalf("metadata %+v", p.ObjectMeta)
	}
	if p.Status.Phase != corev1.PodPending || p.Status.PodIP != "" || p.Status.QOSClass != corev1.PodQOSBestEffort {
		t.Fatalf("a created pod's status is the server's: %+v", p.Status)
	}
	if p.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		t.Fatal("defaults not applied")
	}
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n", Namespace: "stray"}}
	if err := Nodes.BeforeCreate(n); err != nil || n.Namespace != "" {
		t.Fatalf("cluster-scoped create kept namespace %q (%v)", n.Namespace, err)
	}
	bad := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "default"}}
	if err := Pods.BeforeCreate(bad); !apierrors.IsInvalid(err) {
		t.Fatalf("pod without containers: %v", err)
	}
}

func TestBeforeUpdateKeepsServerFieldsAndCountsGeneration(t *testing.T) {
	old := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "d", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"a": "b"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
			},
		},
	}
	if err := Deployments.BeforeCreate(old); err != nil {
		t.Fatal(err)
	}
	old.ResourceVersion = "10"
	old.Status.Replicas = 3

	labelsOnly := old.DeepCopy()
	labelsOnly.Labels = map[string]string{"x": "y"}
	labelsOnly.Status = appsv1.DeploymentStatus{}
	labelsOnly.UID = ""
	if err := Deployments.BeforeUpdate(labelsOnly, old); err != nil {
		t.Fatal(err)
	}
	if labelsOnly.Generation != 1 || labelsOnly.Status.Replicas != 3 || labelsOnly.UID != old.UID {
		t.Fatalf("metadata-only update: generation %d status %d uid %q", labelsOnly.Generation, labelsOnly.Status.Replicas, labelsOnly.UID)
	}
	specChange := old.DeepCopy()
	specChange.Spec.Template.Spec.Containers[0].Image = "nginx:2"
	if err := Deployments.BeforeUpdate(specChange, old); err != nil {
		t.Fatal(err)
	}
	if specChange.Generation != 2 {
		t.Fatalf("spec change: generation %d, want 2", specChange.Generation)
	}
	status := old.DeepCopy()
	status.Spec.Paused = true
	status.Labels = map[string]string{"sneaky": "yes"}
	status.Status.Replicas = 5
	if err := Deployments.BeforeStatusUpdate(status, old); err != nil {
		t.Fatal(err)
	}
	if status.Spec.Paused || status.Labels["sneaky"] != "" || status.Status.Replicas != 5 {
		t.Fatalf("status update changed spec or labels, or lost status: %+v", status)
	}
}

// A namespace gets the "kubernetes" finalizer on create; an update of the
// main resource keeps spec.finalizers as they were, a write to the
// finalize subresource replaces them (and its metadata, as Kubernetes'
// finalize strategy) but never the status.
func TestNamespaceFinalizeUpdate(t *testing.T) {
	old := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"},
		Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"example.com/drain"}}}
	if err := Namespaces.BeforeCreate(old); err != nil {
		t.Fatal(err)
	}
	if want := []corev1.FinalizerName{"example.com/drain", corev1.FinalizerKubernetes}; !slices.Equal(old.Spec.Finalizers, want) {
		t.Fatalf("finalizers after create %v, want %v", old.Spec.Finalizers, want)
	}
	old.ResourceVersion = "7"

	update := old.DeepCopy()
	update.Spec.Finalizers = nil
	if err := Namespaces.BeforeUpdate(update, old); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(update.Spec.Finalizers, old.Spec.Finalizers) {
		t.Errorf("an update of the main resource changed spec.finalizers to %v", update.Spec.Finalizers)
	}

	finalize := old.DeepCopy()
	finalize.Spec.Finalizers = []corev1.FinalizerName{"example.com/drain"}
	finalize.Labels["team"] = "a"
	finalize.Status.Phase = corev1.NamespaceTerminating
	if err := Namespaces.BeforeFinalizeUpdate(finalize, old); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(finalize.Spec.Finalizers, []corev1.FinalizerName{"example.com/drain"}) || finalize.Labels["team"] != "a" ||
		finalize.Status.Phase != corev1.NamespaceActive {
		t.Errorf("finalize: finalizers %v labels %v phase %q; want [example.com/drain], team=a, Active",
			finalize.Spec.Finalizers, finalize.Labels, finalize.Status.Phase)
	}

	bad := old.DeepCopy()
	bad.Spec.Finalizers = []corev1.FinalizerName{"drain"}
	err := Namespaces.BeforeFinalizeUpdate(bad, old)
	var status apierrors.APIStatus
	if !apierrors.IsInvalid(err) || !errors.As(err, &status) || len(status.Status().Details.Causes) != 1 ||
		status.Status().Details.Causes[0].Field != "spec.finalizers[0]" {
		t.Errorf("finalize with an unqualified finalizer: %v, want 422 on spec.finalizers[0]", err)
	}
}

// A namespace's status write also writes its metadata, as Kubernetes'
// namespaces/status does (the conformance test "should apply changes to a
// namespace status" patches an annotation through it), but never its spec.
func TestNamespaceStatusUpdateWritesMetadata(t *testing.T) {
	old := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}}
	if err := Namespaces.BeforeCreate(old); err != nil {
		t.Fatal(err)
	}
	old.ResourceVersion = "3"
	st := old.DeepCopy()
	st.Annotations = map[string]string{"note": "patched"}
	st.Spec.Finalizers = nil
	st.Status.Conditions = []corev1.NamespaceCondition{{Type: "StatusPatch", Status: corev1.ConditionTrue}}
	if err := Namespaces.BeforeStatusUpdate(st, old); err != nil {
		t.Fatal(err)
	}
	if st.Annotations["note"] != "patched" || len(st.Status.Conditions) != 1 || !slices.Equal(st.Spec.Finalizers, old.Spec.Finalizers) {
		t.Errorf("namespace status write: annotations %v conditions %v finalizers %v", st.Annotations, st.Status.Conditions, st.Spec.Finalizers)
	}
}

// TestNegativeTerminationGracePeriod: kube-apiserver stores a pod's negative
// terminationGracePeriodSeconds as 1 on create and update instead of
// refusing it; a template keeps its value (its pods are corrected).
func TestNegativeTerminationGracePeriod(t *testing.T) {
	pod := func(grace int64) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default"},
			Spec: corev1.PodSpec{
				TerminationGracePeriodSeconds: &grace,
				Containers:                    []corev1.Container{{Name: "c", Image: "nginx"}},
			},
		}
	}
	created := pod(-5)
	if err := Pods.BeforeCreate(created); err != nil {
		t.Fatalf("create with a negative grace period: %v", err)
	}
	if g := *created.Spec.TerminationGracePeriodSeconds; g != 1 {
		t.Fatalf("created with grace %d, want 1", g)
	}

	// A pod stored with a negative value before (another apiserver, an
	// older Shepherd): an update resending it corrects it to 1.
	legacy := pod(-5)
	Pods.Default(legacy)
	legacy.ResourceVersion = "3"
	resent := legacy.DeepCopy()
	if err := Pods.BeforeUpdate(resent, legacy); err != nil {
		t.Fatalf("update resending a stored negative grace period: %v", err)
	}
	if g := *resent.Spec.TerminationGracePeriodSeconds; g != 1 {
		t.Fatalf("updated with grace %d, want 1", g)
	}

	// Otherwise the field is immutable: a negative value sent over 30 is
	// corrected to 1, which differs from 30.
	stored := pod(30)
	Pods.Default(stored)
	stored.ResourceVersion = "3"
	changed := pod(-5)
	changed.ResourceVersion = "3"
	if err := Pods.BeforeUpdate(changed, stored); !apierrors.IsInvalid(err) {
		t.Fatalf("changing the grace period of a pod: %v, want 422", err)
	}

	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "d", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"a": "b"}},
				Spec:       pod(-5).Spec,
			},
		},
	}
	if err := Deployments.BeforeCreate(d); err != nil {
		t.Fatalf("deployment whose template has a negative grace period: %v", err)
	}
	if g := *d.Spec.Template.Spec.TerminationGracePeriodSeconds; g != -5 {
		t.Fatalf("template grace %d, want -5 kept", g)
	}
}
