package integration

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/shepherd-lab/shepherd/apiserver/apiservertest"
)

func TestBinding(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	pods := srv.Client.CoreV1().Pods("default")
	if _, err := pods.Create(ctx, newPod("p", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	bind := func(node string) error {
		return pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Target: corev1.ObjectReference{Kind: "Node", Name: node}}, metav1.CreateOptions{})
	}
	if err := bind("n1"); err != nil {
		t.Fatal(err)
	}
	p, err := pods.Get(ctx, "p", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec.NodeName != "n1" {
		t.Fatalf("nodeName %q after binding to n1", p.Spec.NodeName)
	}
	scheduled := false
	for _, c := range p.Status.Conditions {
		scheduled = scheduled || (c.Type == corev1.PodScheduled && c.Status == corev1.ConditionTrue)
	}
	if !scheduled {
		t.Fatalf("no PodScheduled=True condition: %+v", p.Status.Conditions)
	}
	err = bind("n2")
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), `already assigned to node "n1"`) {
		t.Fatalf("second binding: %v, want 409 naming n1", err)
	}
	// nodeName cannot be changed by an update either.
	if _, err := pods.Patch(ctx, "p", types.MergePatchType, []byte(`{"spec":{"nodeName":"n2"}}`), metav1.PatchOptions{}); !apierrors.IsInvalid(err) {
		t.Fatalf("moving a bound pod by patch: %v, want 422", err)
	}
}

func TestScaleSubresource(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	deps := srv.Client.AppsV1().Deployments("default")
	replicas := int32(2)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       newPod("x", nil).Spec,
			},
		},
	}
	created, err := deps.Create(ctx, d, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if created.Generation != 1 || created.Spec.Strategy.RollingUpdate == nil || created.Spec.Strategy.RollingUpdate.MaxSurge.String() != "25%" || *created.Spec.RevisionHistoryLimit != 10 || *created.Spec.ProgressDeadlineSeconds != 600 {
		t.Fatalf("deployment defaults: generation %d strategy %+v", created.Generation, created.Spec.Strategy)
	}
	scale, err := deps.GetScale(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if scale.Spec.Replicas != 2 || scale.Status.Selector != "app=web" {
		t.Fatalf("scale %+v", scale)
	}
	scale.Spec.Replicas = 5
	if _, err := deps.UpdateScale(ctx, "web", scale, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := deps.UpdateScale(ctx, "web", scale, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Fatalf("scale update at a stale resourceVersion: %v, want 409", err)
	}
	got, _ := deps.Get(ctx, "web", metav1.GetOptions{})
	if *got.Spec.Replicas != 5 || got.Generation != 2 {
		t.Fatalf("after scaling to 5: replicas %d generation %d", *got.Spec.Replicas, got.Generation)
	}
	if _, err := deps.Patch(ctx, "web", types.MergePatchType, []byte(`{"spec":{"replicas":1}}`), metav1.PatchOptions{}, "scale"); err != nil {
		t.Fatal(err)
	}
	if got, _ := deps.Get(ctx, "web", metav1.GetOptions{}); *got.Spec.Replicas != 1 {
		t.Fatalf("after a scale patch to 1: %d", *got.Spec.Replicas)
	}
	neg := &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: autoscalingv1.ScaleSpec{Replicas: -1}}
	if _, err := deps.UpdateScale(ctx, "web", neg, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Fatalf("scale to -1: %v, want 422", err)
	}
	// Status writes do not bump the generation; spec changes do.
	if _, err := deps.Patch(ctx, "web", types.MergePatchType, []byte(`{"status":{"replicas":1}}`), metav1.PatchOptions{}, "status"); err != nil {
		t.Fatal(err)
	}
	if got, _ := deps.Get(ctx, "web", metav1.GetOptions{}); got.Generation != 3 || got.Status.Replicas != 1 {
		t.Fatalf("after a status write: generation %d status.replicas %d, want 3 and 1", got.Generation, got.Status.Replicas)
	}
}

func TestNamespaceLifecycle(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	core := srv.Client.CoreV1()
	for _, name := range []string{"default", "kube-system", "kube-public", "kube-node-lease"} {
		if _, err := core.Namespaces().Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Fatalf("namespace %s missing at first start: %v", name, err)
		}
	}
	_, err := core.Pods("nowhere").Create(ctx, newPod("p", nil), metav1.CreateOptions{})
	if !apierrors.IsNotFound(err) || !strings.Contains(err.Error(), `namespaces "nowhere" not found`) {
		t.Fatalf("create in a missing namespace: %v", err)
	}
	if err := core.Namespaces().Delete(ctx, "default", metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("deleting default: %v, want 403", err)
	}
	if _, err := core.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "doomed"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A namespace created a moment ago is usable at once.
	if _, err := core.ConfigMaps("doomed").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := core.Namespaces().Delete(ctx, "doomed", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = core.ConfigMaps("doomed").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "d"}}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "because it is being terminated") {
		t.Fatalf("create in a terminating namespace: %v, want 403", err)
	}
	if !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
		t.Errorf("refusal without the NamespaceTerminating cause: %#v", err)
	}
	// Events too, as kube-apiserver 1.32: nothing new in a namespace that
	// is being emptied.
	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "late"},
		InvolvedObject: corev1.ObjectReference{Kind: "ConfigMap", Namespace: "doomed", Name: "c"},
		Reason:         "Late", Type: corev1.EventTypeNormal,
	}
	_, err = core.Events("doomed").Create(ctx, ev, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
		t.Fatalf("event in a terminating namespace: %v, want 403 NamespaceTerminating", err)
	}
}

func TestEventsForPodsAndDeployments(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	pods := srv.Client.CoreV1().Pods("default")
	p, err := pods.Create(ctx, newPod("evented", nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := pods.Delete(ctx, "evented", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		evs, err := srv.Client.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=evented"})
		if err != nil {
			t.Fatal(err)
		}
		reasons := map[string]bool{}
		for _, e := range evs.Items {
			if e.InvolvedObject.UID != p.UID || e.Source.Component != "shepherd-apiserver" {
				t.Fatalf("event %+v is not about the pod", e.InvolvedObject)
			}
			reasons[e.Reason] = true
		}
		if reasons["Created"] && reasons["Deleted"] {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("events for the pod after 10s: %v, want Created and Deleted", reasons)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
