package validation

import (
	"testing"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestValidateLease(t *testing.T) {
	valid := func() *coordinationv1.Lease {
		return &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: "node-1", Namespace: "kube-node-lease"},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("node-1"), LeaseDurationSeconds: ptr.To[int32](40),
				LeaseTransitions: ptr.To[int32](0)},
		}
	}
	tests := []struct {
		name   string
		mutate func(*coordinationv1.Lease)
		want   []wantErr
	}{
		{"valid", func(*coordinationv1.Lease) {}, nil},
		{"empty spec", func(l *coordinationv1.Lease) { l.Spec = coordinationv1.LeaseSpec{} }, nil},
		{"zero duration", func(l *coordinationv1.Lease) { l.Spec.LeaseDurationSeconds = ptr.To[int32](0) },
			errs(invalid("spec.leaseDurationSeconds"))},
		{"negative transitions", func(l *coordinationv1.Lease) { l.Spec.LeaseTransitions = ptr.To[int32](-1) },
			errs(invalid("spec.leaseTransitions"))},
		{"unknown strategy", func(l *coordinationv1.Lease) {
			l.Spec.Strategy = ptr.To(coordinationv1.CoordinatedLeaseStrategy("Newest"))
		},
			errs(notSupported("spec.strategy"))},
		{"preferred holder without strategy", func(l *coordinationv1.Lease) { l.Spec.PreferredHolder = ptr.To("node-2") },
			errs(forbidden("spec.preferredHolder"))},
		{"bad name", func(l *coordinationv1.Lease) { l.Name = "Node_1" }, errs(invalid("metadata.name"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := valid()
			tc.mutate(l)
			assertErrors(t, ValidateLease(l), tc.want)
		})
	}

	old := valid()
	old.ResourceVersion = "1"
	l := old.DeepCopy()
	l.Spec.HolderIdentity = ptr.To("node-2")
	l.Spec.LeaseTransitions = ptr.To[int32](1)
	assertErrors(t, ValidateLeaseUpdate(l, old), nil)
	l.Spec.LeaseDurationSeconds = ptr.To[int32](-5)
	l.Namespace = "default"
	assertErrors(t, ValidateLeaseUpdate(l, old), errs(invalid("metadata.namespace"), invalid("spec.leaseDurationSeconds")))
}

func TestValidateScale(t *testing.T) {
	s := &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"}, Spec: autoscalingv1.ScaleSpec{Replicas: 0}}
	assertErrors(t, ValidateScale(s), nil)
	s.Spec.Replicas = -1
	assertErrors(t, ValidateScale(s), errs(invalid("spec.replicas")))
	s.Namespace = ""
	assertErrors(t, ValidateScale(s), errs(invalid("spec.replicas"), required("metadata.namespace")))
}
