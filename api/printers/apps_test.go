package printers

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func template(cs ...corev1.Container) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: cs}}
}

func TestDeploymentRow(t *testing.T) {
	three := int32(3)
	web := corev1.Container{Name: "web", Image: "nginx:1.27"}
	log := corev1.Container{Name: "log", Image: "busybox:1.36"}
	tests := []struct {
		name string
		d    appsv1.Deployment
		want []any
	}{
		{
			name: "rolling out",
			d: appsv1.Deployment{
				ObjectMeta: objectMeta("web"),
				Spec: appsv1.DeploymentSpec{
					Replicas: &three,
					Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
					Template: template(web, log),
				},
				Status: appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 1, ReadyReplicas: 2, AvailableReplicas: 2},
			},
			want: []any{"web", "2/3", int64(1), int64(2), "10m", "web,log", "nginx:1.27,busybox:1.36", "app=web"},
		},
		{
			name: "set-based selector",
			d: appsv1.Deployment{
				ObjectMeta: objectMeta("api"),
				Spec: appsv1.DeploymentSpec{
					Replicas: &three,
					Selector: &metav1.LabelSelector{
						MatchLabels:      map[string]string{"tier": "api"},
						MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "track", Operator: metav1.LabelSelectorOpIn, Values: []string{"stable", "canary"}}},
					},
					Template: template(web),
				},
				Status: appsv1.DeploymentStatus{UpdatedReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 3},
			},
			want: []any{"api", "3/3", int64(3), int64(3), "10m", "web", "nginx:1.27", "tier=api,track in (canary,stable)"},
		},
		{
			name: "nothing set",
			d:    appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "empty"}},
			want: []any{"empty", "0/0", int64(0), int64(0), "<unknown>", "", "", ""},
		},
		{
			name: "invalid selector",
			d: appsv1.Deployment{ObjectMeta: objectMeta("bad"), Spec: appsv1.DeploymentSpec{
				Replicas: &three,
				Selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: "Bogus"}}},
			}},
			want: []any{"bad", "0/3", int64(0), int64(0), "10m", "", "", "<invalid>"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkRow(t, rowOf(t, deploymentGVK, &tt.d), tt.want)
		})
	}
}

func TestReplicaSetRow(t *testing.T) {
	three := int32(3)
	tests := []struct {
		name string
		rs   appsv1.ReplicaSet
		want []any
	}{
		{
			name: "scaling up",
			rs: appsv1.ReplicaSet{
				ObjectMeta: objectMeta("web-7c9f8b"),
				Spec: appsv1.ReplicaSetSpec{
					Replicas: &three,
					Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "pod-template-hash": "7c9f8b"}},
					Template: template(corev1.Container{Name: "web", Image: "nginx:1.27"}),
				},
				Status: appsv1.ReplicaSetStatus{Replicas: 2, ReadyReplicas: 1},
			},
			want: []any{"web-7c9f8b", int64(3), int64(2), int64(1), "10m", "web", "nginx:1.27", "app=web,pod-template-hash=7c9f8b"},
		},
		{
			name: "nothing set",
			rs:   appsv1.ReplicaSet{ObjectMeta: objectMeta("empty")},
			want: []any{"empty", int64(0), int64(0), int64(0), "10m", "", "", "<none>"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkRow(t, rowOf(t, replicaSetGVK, &tt.rs), tt.want)
		})
	}
}
