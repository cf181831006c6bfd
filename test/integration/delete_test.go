package integration

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/shepherd-lab/shepherd/apiserver/apiservertest"
)

func TestPodDeletion(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	pods := srv.Client.CoreV1().Pods("default")

	// An unbound pod has nothing to stop: it goes at once.
	if _, err := pods.Create(ctx, newPod("unbound", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := pods.Delete(ctx, "unbound", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Get(ctx, "unbound", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("unbound pod after delete: %v", err)
	}

	// A bound pod waits for its kubelet: it is marked with its grace period.
	bound := newPod("bound", nil)
	bound.Spec.NodeName = "n1"
	grace := int64(45)
	bound.Spec.TerminationGracePeriodSeconds = &grace
	if _, err := pods.Create(ctx, bound, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	if err := pods.Delete(ctx, "bound", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := pods.Get(ctx, "bound", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("bound pod after delete: %v", err)
	}
	if got.DeletionTimestamp == nil || got.DeletionGracePeriodSeconds == nil || *got.DeletionGracePeriodSeconds != 45 {
		t.Fatalf("bound pod deletion marks: %v %v, want a deletionTimestamp and 45s", got.DeletionTimestamp, got.DeletionGracePeriodSeconds)
	}
	if d := got.DeletionTimestamp.Sub(before); d < 40*time.Second || d > 50*time.Second {
		t.Fatalf("deletionTimestamp %s after the request, want about 45s", d)
	}
	// A shorter grace period hurries it; a longer one does not slow it.
	long := int64(300)
	if err := pods.Delete(ctx, "bound", metav1.DeleteOptions{GracePeriodSeconds: &long}); err != nil {
		t.Fatal(err)
	}
	if got, _ := pods.Get(ctx, "bound", metav1.GetOptions{}); *got.DeletionGracePeriodSeconds != 45 {
		t.Fatalf("a longer grace period changed it to %d", *got.DeletionGracePeriodSeconds)
	}
	// Grace period 0 (kubectl --force --grace-period=0) removes it now.
	zero := int64(0)
	if err := pods.Delete(ctx, "bound", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Get(ctx, "bound", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("bound pod after a zero-grace delete: %v", err)
	}
}

func TestFinalizersAndPreconditions(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	cms := srv.Client.CoreV1().ConfigMaps("default")
	cm, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "held", Finalizers: []string{"example.com/hold"}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wrong := types.UID("not-the-uid")
	if err := cms.Delete(ctx, "held", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &wrong}}); !apierrors.IsConflict(err) {
		t.Fatalf("delete with a wrong uid precondition: %v, want 409", err)
	}
	staleRV := "1"
	if err := cms.Delete(ctx, "held", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &staleRV}}); !apierrors.IsConflict(err) {
		t.Fatalf("delete with a stale resourceVersion precondition: %v, want 409", err)
	}
	if err := cms.Delete(ctx, "held", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &cm.UID}}); err != nil {
		t.Fatal(err)
	}
	got, err := cms.Get(ctx, "held", metav1.GetOptions{})
	if err != nil || got.DeletionTimestamp == nil {
		t.Fatalf("object with a finalizer after delete: %v, deletionTimestamp %v", err, got.DeletionTimestamp)
	}
	// No new finalizer may join a deletion in progress.
	if _, err := cms.Patch(ctx, "held", types.MergePatchType, []byte(`{"metadata":{"finalizers":["example.com/hold","example.com/more"]}}`), metav1.PatchOptions{}); !apierrors.IsInvalid(err) {
		t.Fatalf("adding a finalizer while deleting: %v, want 422", err)
	}
	// Removing the last finalizer completes the deletion.
	if _, err := cms.Patch(ctx, "held", types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Get(ctx, "held", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("after its last finalizer went: %v, want NotFound", err)
	}
}

func TestPropagationPolicyFinalizers(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	cms := srv.Client.CoreV1().ConfigMaps("default")
	for _, c := range []struct {
		name      string
		policy    metav1.DeletionPropagation
		finalizer string
	}{
		{"p-orphan", metav1.DeletePropagationOrphan, metav1.FinalizerOrphanDependents},
		{"p-foreground", metav1.DeletePropagationForeground, metav1.FinalizerDeleteDependents},
	} {
		name := c.name
		if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		policy := c.policy
		if err := cms.Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &policy}); err != nil {
			t.Fatal(err)
		}
		got, err := cms.Get(ctx, name, metav1.GetOptions{})
		if err != nil || len(got.Finalizers) != 1 || got.Finalizers[0] != c.finalizer || got.DeletionTimestamp == nil {
			t.Fatalf("%s delete: %v, finalizers %v; want %s and a deletionTimestamp", c.policy, err, got.Finalizers, c.finalizer)
		}
	}
	bad := metav1.DeletionPropagation("Sideways")
	if err := cms.Delete(ctx, "p-orphan", metav1.DeleteOptions{PropagationPolicy: &bad}); !apierrors.IsBadRequest(err) {
		t.Fatalf("unknown propagation policy: %v, want 400", err)
	}
}

func TestDryRun(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	cms := srv.Client.CoreV1().ConfigMaps("default")
	dry := []string{metav1.DryRunAll}
	out, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "dry"}}, metav1.CreateOptions{DryRun: dry})
	if err != nil || out.UID == "" {
		t.Fatalf("dry-run create: %v (uid %q)", err, out.UID)
	}
	if _, err := cms.Get(ctx, "dry", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a dry-run create stored the object: %v", err)
	}
	real, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "real"}, Data: map[string]string{"a": "1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Patch(ctx, "real", types.MergePatchType, []byte(`{"data":{"a":"2"}}`), metav1.PatchOptions{DryRun: dry}); err != nil {
		t.Fatal(err)
	}
	upd := real.DeepCopy()
	upd.Data["a"] = "3"
	if _, err := cms.Update(ctx, upd, metav1.UpdateOptions{DryRun: dry}); err != nil {
		t.Fatal(err)
	}
	if err := cms.Delete(ctx, "real", metav1.DeleteOptions{DryRun: dry}); err != nil {
		t.Fatal(err)
	}
	got, err := cms.Get(ctx, "real", metav1.GetOptions{})
	if err != nil || got.Data["a"] != "1" || got.ResourceVersion != real.ResourceVersion {
		t.Fatalf("after dry-run patch, update and delete: %v, data %v, rv %s (was %s)", err, got.Data, got.ResourceVersion, real.ResourceVersion)
	}
}

// client-go's typed clients send DeleteOptions in the resource's own group
// version (apps/v1 for deployments); the apiserver accepts it, as
// Kubernetes does.
func TestTypedDeleteInAppsGroup(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "rs"},
		Spec: appsv1.ReplicaSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"a": "b"}}, Spec: newPod("x", nil).Spec},
		},
	}
	if _, err := srv.Client.AppsV1().ReplicaSets("default").Create(ctx, rs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	orphan := metav1.DeletePropagationOrphan
	if err := srv.Client.AppsV1().ReplicaSets("default").Delete(ctx, "rs", metav1.DeleteOptions{PropagationPolicy: &orphan}); err != nil {
		t.Fatalf("typed delete of an apps/v1 object: %v", err)
	}
	got, err := srv.Client.AppsV1().ReplicaSets("default").Get(ctx, "rs", metav1.GetOptions{})
	if err != nil || got.DeletionTimestamp == nil || len(got.Finalizers) != 1 || got.Finalizers[0] != metav1.FinalizerOrphanDependents {
		t.Fatalf("after an orphan delete: %v %+v", err, got)
	}
}
