package integration

import (
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"

	"github.com/shepherd-lab/shepherd/apiserver/apiservertest"
)

func deploymentApply(replicas int32, image string) *appsv1ac.DeploymentApplyConfiguration {
	return appsv1ac.Deployment("web", "default").
		WithSpec(appsv1ac.DeploymentSpec().
			WithReplicas(replicas).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(map[string]string{"app": "web"})).
			WithTemplate(corev1ac.PodTemplateSpec().
				WithLabels(map[string]string{"app": "web"}).
				WithSpec(corev1ac.PodSpec().WithContainers(corev1ac.Container().WithName("web").WithImage(image)))))
}

// TestServerSideApply drives server-side apply through client-go's typed
// apply configurations: creation, ownership, conflicts, forcing, and fields
// dropped from a manager's configuration.
func TestServerSideApply(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	deps := srv.Client.AppsV1().Deployments("default")

	// Apply creates.
	d, err := deps.Apply(ctx, deploymentApply(2, "nginx:1"), metav1.ApplyOptions{FieldManager: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if *d.Spec.Replicas != 2 || len(d.ManagedFields) != 1 || d.ManagedFields[0].Manager != "alice" || d.ManagedFields[0].Operation != metav1.ManagedFieldsOperationApply {
		t.Fatalf("created by apply: replicas %d, managedFields %+v", *d.Spec.Replicas, d.ManagedFields)
	}
	// Applying the same configuration again is a no-op.
	again, err := deps.Apply(ctx, deploymentApply(2, "nginx:1"), metav1.ApplyOptions{FieldManager: "alice"})
	if err != nil || again.ResourceVersion != d.ResourceVersion {
		t.Fatalf("re-apply: %v, resourceVersion %s → %s", err, d.ResourceVersion, again.ResourceVersion)
	}
	// Another manager setting a field alice owns to another value conflicts.
	bob := appsv1ac.Deployment("web", "default").WithSpec(appsv1ac.DeploymentSpec().WithReplicas(5))
	_, err = deps.Apply(ctx, bob, metav1.ApplyOptions{FieldManager: "bob"})
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), `conflict with "alice": .spec.replicas`) {
		t.Fatalf("bob's conflicting apply: %v", err)
	}
	st := err.(apierrors.APIStatus).Status()
	if len(st.Details.Causes) != 1 || st.Details.Causes[0].Type != metav1.CauseTypeFieldManagerConflict || st.Details.Causes[0].Field != ".spec.replicas" {
		t.Fatalf("conflict causes %+v", st.Details)
	}
	// Setting it to the same value shares ownership; forcing takes it.
	if _, err := deps.Apply(ctx, appsv1ac.Deployment("web", "default").WithSpec(appsv1ac.DeploymentSpec().WithReplicas(2)), metav1.ApplyOptions{FieldManager: "carol"}); err != nil {
		t.Fatalf("co-owning apply: %v", err)
	}
	d, err = deps.Apply(ctx, bob, metav1.ApplyOptions{FieldManager: "bob", Force: true})
	if err != nil || *d.Spec.Replicas != 5 {
		t.Fatalf("forced apply: %v", err)
	}
	managers := map[string]bool{}
	for _, mf := range d.ManagedFields {
		managers[mf.Manager] = true
	}
	if !managers["alice"] || !managers["bob"] {
		t.Fatalf("managers after force: %v", managers)
	}
	// A field a manager stops applying is removed if nobody else owns it.
	withLabel := deploymentApply(2, "nginx:1").WithLabels(map[string]string{"team": "a"})
	if _, err := deps.Apply(ctx, withLabel, metav1.ApplyOptions{FieldManager: "alice", Force: true}); err != nil {
		t.Fatal(err)
	}
	d, err = deps.Apply(ctx, deploymentApply(2, "nginx:1"), metav1.ApplyOptions{FieldManager: "alice", Force: true})
	if err != nil || d.Labels["team"] != "" {
		t.Fatalf("label dropped from alice's configuration survived: %v %v", err, d.Labels)
	}
	// An ordinary update is recorded as an Update by its manager.
	d.Spec.Template.Spec.Containers[0].Image = "nginx:2"
	if d, err = deps.Update(ctx, d, metav1.UpdateOptions{FieldManager: "dave"}); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range d.ManagedFields {
		found = found || (mf.Manager == "dave" && mf.Operation == metav1.ManagedFieldsOperationUpdate)
	}
	if !found {
		t.Fatalf("update by dave not recorded: %+v", d.ManagedFields)
	}
	// Apply needs a field manager.
	if _, err := deps.Apply(ctx, deploymentApply(1, "x"), metav1.ApplyOptions{}); !apierrors.IsBadRequest(err) {
		t.Fatalf("apply without a field manager: %v", err)
	}
	// Apply of the status subresource, and of a service (cluster IP kept).
	svc := corev1ac.Service("web", "default").WithSpec(corev1ac.ServiceSpec().
		WithSelector(map[string]string{"app": "web"}).
		WithPorts(corev1ac.ServicePort().WithPort(80)))
	created, err := srv.Client.CoreV1().Services("default").Apply(ctx, svc, metav1.ApplyOptions{FieldManager: "alice"})
	if err != nil || created.Spec.ClusterIP == "" {
		t.Fatalf("service apply: %v (cluster IP %q)", err, created.Spec.ClusterIP)
	}
	reapplied, err := srv.Client.CoreV1().Services("default").Apply(ctx, svc.WithLabels(map[string]string{"x": "y"}), metav1.ApplyOptions{FieldManager: "alice"})
	if err != nil || reapplied.Spec.ClusterIP != created.Spec.ClusterIP {
		t.Fatalf("service re-apply moved the cluster IP: %v %s → %s", err, created.Spec.ClusterIP, reapplied.Spec.ClusterIP)
	}
	status := appsv1ac.Deployment("web", "default").WithStatus(appsv1ac.DeploymentStatus().WithObservedGeneration(3))
	d, err = deps.ApplyStatus(ctx, status, metav1.ApplyOptions{FieldManager: "controller"})
	if err != nil || d.Status.ObservedGeneration != 3 {
		t.Fatalf("status apply: %v", err)
	}
}
