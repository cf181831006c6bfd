package validation

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func validNamespace() *corev1.Namespace {
	return &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: "team-a", Labels: map[string]string{corev1.LabelMetadataName: "team-a"}},
		Spec:       corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}},
		Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceActive},
	}
}

func TestValidateNamespace(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*corev1.Namespace)
		want   []wantErr
	}{
		{"valid", func(*corev1.Namespace) {}, nil},
		{"uppercase name", func(ns *corev1.Namespace) { ns.Name = "Team" }, errs(invalid("metadata.name"))},
		{"dotted name", func(ns *corev1.Namespace) { ns.Name = "team.a" }, errs(invalid("metadata.name"))},
		{"qualified finalizer", func(ns *corev1.Namespace) { ns.Spec.Finalizers = append(ns.Spec.Finalizers, "example.com/drain") }, nil},
		{"unqualified finalizer", func(ns *corev1.Namespace) { ns.Spec.Finalizers = []corev1.FinalizerName{"drain"} },
			errs(invalid("spec.finalizers[0]"))},
		{"malformed finalizer", func(ns *corev1.Namespace) { ns.Spec.Finalizers = []corev1.FinalizerName{"a b/c"} },
			errs(invalid("spec.finalizers[0]"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ns := validNamespace()
			tc.mutate(ns)
			assertErrors(t, ValidateNamespace(ns), tc.want)
		})
	}
}

func TestValidateNamespaceUpdate(t *testing.T) {
	old := validNamespace()
	old.ResourceVersion = "4"
	ns := old.DeepCopy()
	ns.Labels["team"] = "a"
	ns.Spec.Finalizers = nil
	assertErrors(t, ValidateNamespaceUpdate(ns, old), nil)
	ns.Name = "team-b"
	assertErrors(t, ValidateNamespaceUpdate(ns, old), errs(invalid("metadata.name")))
}
