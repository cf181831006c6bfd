package validation

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func validTemplate() corev1.PodTemplateSpec {
	p := validPod()
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}}, Spec: p.Spec}
}

// validDeployment is a deployment as defaulting leaves it.
func validDeployment() *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: validTemplate(),
			Strategy: appsv1.DeploymentStrategy{
				Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{
					MaxUnavailable: ptr.To(intstr.FromString("25%")), MaxSurge: ptr.To(intstr.FromString("25%"))},
			},
			RevisionHistoryLimit:    ptr.To[int32](10),
			ProgressDeadlineSeconds: ptr.To[int32](600),
		},
	}
}

func validReplicaSet() *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web-5d8f9c", Namespace: "default"},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: validTemplate(),
		},
	}
}

func TestValidateDeployment(t *testing.T) {
	ru := "spec.strategy.rollingUpdate"
	tests := []struct {
		name   string
		mutate func(*appsv1.Deployment)
		want   []wantErr
	}{
		{"valid", func(*appsv1.Deployment) {}, nil},
		{"zero replicas", func(d *appsv1.Deployment) { d.Spec.Replicas = ptr.To[int32](0) }, nil},
		{"negative replicas", func(d *appsv1.Deployment) { d.Spec.Replicas = ptr.To[int32](-1) }, errs(invalid("spec.replicas"))},
		{"bad name", func(d *appsv1.Deployment) { d.Name = "Web" }, errs(invalid("metadata.name"))},
		// With no selector nothing matches the template either, as in Kubernetes.
		{"no selector", func(d *appsv1.Deployment) { d.Spec.Selector = nil },
			errs(required("spec.selector"), invalid("spec.template.metadata.labels"))},
		{"empty selector", func(d *appsv1.Deployment) { d.Spec.Selector = &metav1.LabelSelector{} }, errs(invalid("spec.selector"))},
		{"selector does not match", func(d *appsv1.Deployment) { d.Spec.Template.Labels = map[string]string{"app": "api"} },
			errs(invalid("spec.template.metadata.labels"))},
		{"selector by expression", func(d *appsv1.Deployment) {
			d.Spec.Selector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"web", "api"}}}}
		}, nil},
		{"bad selector operator", func(d *appsv1.Deployment) {
			d.Spec.Selector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "app", Operator: "Like", Values: []string{"web"}}}}
		}, errs(invalid("spec.selector.matchExpressions[0].operator"), invalid("spec.selector"))},
		{"template restartPolicy Never", func(d *appsv1.Deployment) { d.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever },
			errs(notSupported("spec.template.spec.restartPolicy"))},
		{"template container without image", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "" },
			errs(required("spec.template.spec.containers[0].image"))},
		{"template activeDeadlineSeconds", func(d *appsv1.Deployment) { d.Spec.Template.Spec.ActiveDeadlineSeconds = ptr.To[int64](60) },
			errs(forbidden("spec.template.spec.activeDeadlineSeconds"))},
		{"Recreate", func(d *appsv1.Deployment) {
			d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
		}, nil},
		{"Recreate with rollingUpdate", func(d *appsv1.Deployment) { d.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType },
			errs(forbidden(ru))},
		{"unknown strategy", func(d *appsv1.Deployment) { d.Spec.Strategy.Type = "BlueGreen" }, errs(notSupported("spec.strategy.type"))},
		{"RollingUpdate without parameters", func(d *appsv1.Deployment) { d.Spec.Strategy.RollingUpdate = nil }, errs(required(ru))},
		{"integer surge", func(d *appsv1.Deployment) { d.Spec.Strategy.RollingUpdate.MaxSurge = ptr.To(intstr.FromInt32(1)) }, nil},
		{"surge and unavailable both zero", func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate.MaxSurge = ptr.To(intstr.FromInt32(0))
			d.Spec.Strategy.RollingUpdate.MaxUnavailable = ptr.To(intstr.FromString("0%"))
		}, errs(invalid(ru + ".maxUnavailable"))},
		{"maxUnavailable over 100%", func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate.MaxUnavailable = ptr.To(intstr.FromString("150%"))
		},
			errs(invalid(ru + ".maxUnavailable"))},
		{"maxSurge not a percentage", func(d *appsv1.Deployment) { d.Spec.Strategy.RollingUpdate.MaxSurge = ptr.To(intstr.FromString("lots")) },
			errs(invalid(ru + ".maxSurge"))},
		{"negative maxSurge", func(d *appsv1.Deployment) { d.Spec.Strategy.RollingUpdate.MaxSurge = ptr.To(intstr.FromInt32(-1)) },
			errs(invalid(ru + ".maxSurge"))},
		{"negative minReadySeconds", func(d *appsv1.Deployment) { d.Spec.MinReadySeconds = -1 }, errs(invalid("spec.minReadySeconds"))},
		{"negative revisionHistoryLimit", func(d *appsv1.Deployment) { d.Spec.RevisionHistoryLimit = ptr.To[int32](-1) },
			errs(invalid("spec.revisionHistoryLimit"))},
		{"progress deadline not after minReadySeconds", func(d *appsv1.Deployment) {
			d.Spec.MinReadySeconds = 600
		}, errs(invalid("spec.progressDeadlineSeconds"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := validDeployment()
			tc.mutate(d)
			assertErrors(t, ValidateDeployment(d), tc.want)
		})
	}

	d := validDeployment()
	d.Spec.Template.Labels = map[string]string{"app": "api"}
	assertDetail(t, ValidateDeployment(d), "spec.template.metadata.labels", "`selector` does not match template `labels`")
}

func TestValidateDeploymentUpdate(t *testing.T) {
	old := validDeployment()
	old.ResourceVersion = "10"
	d := old.DeepCopy()
	d.Spec.Replicas = ptr.To[int32](5)
	d.Spec.Template.Spec.Containers[0].Image = "nginx:1.28"
	d.Spec.Template.Spec.Containers[0].Ports[0].ContainerPort = 8080
	assertErrors(t, ValidateDeploymentUpdate(d, old), nil)

	d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "tier": "front"}}
	d.Spec.Template.Labels = map[string]string{"app": "web", "tier": "front"}
	got := ValidateDeploymentUpdate(d, old)
	assertErrors(t, got, errs(invalid("spec.selector")))
	assertDetail(t, got, "spec.selector", "field is immutable")
}

func TestValidateReplicaSet(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*appsv1.ReplicaSet)
		want   []wantErr
	}{
		{"valid", func(*appsv1.ReplicaSet) {}, nil},
		{"negative replicas", func(rs *appsv1.ReplicaSet) { rs.Spec.Replicas = ptr.To[int32](-2) }, errs(invalid("spec.replicas"))},
		{"negative minReadySeconds", func(rs *appsv1.ReplicaSet) { rs.Spec.MinReadySeconds = -1 }, errs(invalid("spec.minReadySeconds"))},
		{"selector does not match", func(rs *appsv1.ReplicaSet) { rs.Spec.Template.Labels = nil },
			errs(invalid("spec.template.metadata.labels"))},
		{"template restartPolicy OnFailure", func(rs *appsv1.ReplicaSet) { rs.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure },
			errs(notSupported("spec.template.spec.restartPolicy"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs := validReplicaSet()
			tc.mutate(rs)
			assertErrors(t, ValidateReplicaSet(rs), tc.want)
		})
	}

	old := validReplicaSet()
	old.ResourceVersion = "3"
	rs := old.DeepCopy()
	rs.Spec.Replicas = ptr.To[int32](0)
	assertErrors(t, ValidateReplicaSetUpdate(rs, old), nil)
	rs.Spec.Selector.MatchLabels["pod-template-hash"] = "5d8f9c"
	rs.Spec.Template.Labels["pod-template-hash"] = "5d8f9c"
	assertErrors(t, ValidateReplicaSetUpdate(rs, old), errs(invalid("spec.selector")))
}

func TestValidateWorkloadStatusUpdates(t *testing.T) {
	oldD := validDeployment()
	oldD.ResourceVersion = "1"
	oldD.Status = appsv1.DeploymentStatus{Replicas: 3, ReadyReplicas: 3, AvailableReplicas: 3, UpdatedReplicas: 3, CollisionCount: ptr.To[int32](1)}
	d := oldD.DeepCopy()
	d.Status.ReadyReplicas = 2
	d.Status.AvailableReplicas = 2
	assertErrors(t, ValidateDeploymentStatusUpdate(d, oldD), nil)
	d.Status.ReadyReplicas = 4
	d.Status.CollisionCount = ptr.To[int32](0)
	assertErrors(t, ValidateDeploymentStatusUpdate(d, oldD), errs(invalid("status.readyReplicas"), invalid("status.collisionCount")))

	oldRS := validReplicaSet()
	oldRS.ResourceVersion = "1"
	rs := oldRS.DeepCopy()
	rs.Status = appsv1.ReplicaSetStatus{Replicas: 2, FullyLabeledReplicas: 2, ReadyReplicas: 1, AvailableReplicas: 1}
	assertErrors(t, ValidateReplicaSetStatusUpdate(rs, oldRS), nil)
	rs.Status.FullyLabeledReplicas = 3
	rs.Status.AvailableReplicas = 2
	assertErrors(t, ValidateReplicaSetStatusUpdate(rs, oldRS), errs(invalid("status.fullyLabeledReplicas"), invalid("status.availableReplicas")))
}
