package validation

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func validNode() *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "node-1", Labels: map[string]string{"kubernetes.io/hostname": "node-1"}},
		Spec: corev1.NodeSpec{
			PodCIDR:  "10.244.1.0/24",
			PodCIDRs: []string{"10.244.1.0/24"},
			Taints:   []corev1.Taint{{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}},
		},
		Status: corev1.NodeStatus{
			Capacity:    corev1.ResourceList{"cpu": resource.MustParse("4"), "memory": resource.MustParse("8Gi")},
			Allocatable: corev1.ResourceList{"cpu": resource.MustParse("4"), "memory": resource.MustParse("8Gi")},
		},
	}
}

func TestValidateNode(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*corev1.Node)
		want   []wantErr
	}{
		{"valid", func(*corev1.Node) {}, nil},
		{"no pod CIDR yet", func(n *corev1.Node) { n.Spec.PodCIDR, n.Spec.PodCIDRs = "", nil }, nil},
		{"dual-stack pod CIDRs", func(n *corev1.Node) { n.Spec.PodCIDRs = append(n.Spec.PodCIDRs, "fd00:1::/64") }, nil},
		{"bad name", func(n *corev1.Node) { n.Name = "Node_1" }, errs(invalid("metadata.name"))},
		{"bad pod CIDR", func(n *corev1.Node) { n.Spec.PodCIDR, n.Spec.PodCIDRs = "10.244.1.0/33", []string{"10.244.1.0/33"} },
			errs(invalid("spec.podCIDRs[0]"))},
		{"legacy podCIDR only, bad", func(n *corev1.Node) { n.Spec.PodCIDR, n.Spec.PodCIDRs = "10.244.1.0", nil },
			errs(invalid("spec.podCIDR"))},
		{"podCIDR out of step", func(n *corev1.Node) { n.Spec.PodCIDR = "10.244.2.0/24" }, errs(invalid("spec.podCIDR"))},
		{"two IPv4 pod CIDRs", func(n *corev1.Node) { n.Spec.PodCIDRs = append(n.Spec.PodCIDRs, "10.245.1.0/24") },
			errs(invalid("spec.podCIDRs"))},
		{"taint without effect", func(n *corev1.Node) { n.Spec.Taints[0].Effect = "" }, errs(required("spec.taints[0].effect"))},
		{"taint with unknown effect", func(n *corev1.Node) { n.Spec.Taints[0].Effect = "NoRun" }, errs(notSupported("spec.taints[0].effect"))},
		{"taint with bad value", func(n *corev1.Node) { n.Spec.Taints[0].Value = "a b" }, errs(invalid("spec.taints[0].value"))},
		{"duplicate taint", func(n *corev1.Node) {
			n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: "dedicated", Effect: corev1.TaintEffectNoSchedule})
		},
			errs(duplicate("spec.taints[1]"))},
		{"same key, other effect", func(n *corev1.Node) {
			n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: "dedicated", Effect: corev1.TaintEffectNoExecute})
		},
			nil},
		{"negative capacity", func(n *corev1.Node) { n.Status.Capacity["cpu"] = resource.MustParse("-1") }, errs(invalid("status.capacity.cpu"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := validNode()
			tc.mutate(n)
			assertErrors(t, ValidateNode(n), tc.want)
		})
	}
}

func TestValidateNodeUpdate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(n, old *corev1.Node)
		want   []wantErr
	}{
		{"taints and labels change", func(n, _ *corev1.Node) {
			n.Spec.Taints = nil
			n.Labels["zone"] = "a"
			n.Spec.Unschedulable = true
		}, nil},
		{"pod CIDR assigned", func(_, old *corev1.Node) { old.Spec.PodCIDR, old.Spec.PodCIDRs = "", nil }, nil},
		{"pod CIDR changed", func(n, _ *corev1.Node) { n.Spec.PodCIDR, n.Spec.PodCIDRs = "10.244.9.0/24", []string{"10.244.9.0/24"} },
			errs(forbidden("spec.podCIDRs"))},
		{"pod CIDR removed", func(n, _ *corev1.Node) { n.Spec.PodCIDR, n.Spec.PodCIDRs = "", nil }, errs(forbidden("spec.podCIDRs"))},
		{"providerID set", func(n, _ *corev1.Node) { n.Spec.ProviderID = "lab://node-1" }, nil},
		{"providerID changed", func(n, old *corev1.Node) { old.Spec.ProviderID = "lab://a"; n.Spec.ProviderID = "lab://b" },
			errs(forbidden("spec.providerID"))},
		{"duplicate address", func(n, _ *corev1.Node) {
			a := corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "192.168.1.10"}
			n.Status.Addresses = []corev1.NodeAddress{a, a}
		}, errs(duplicate("status.addresses[1]"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			old := validNode()
			old.ResourceVersion = "2"
			n := old.DeepCopy()
			tc.mutate(n, old)
			assertErrors(t, ValidateNodeUpdate(n, old), tc.want)
		})
	}
}
