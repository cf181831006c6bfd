package printers

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestNodeRow(t *testing.T) {
	ready := func(s corev1.ConditionStatus) []corev1.NodeCondition {
		return []corev1.NodeCondition{
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse},
			{Type: corev1.NodeReady, Status: s},
		}
	}
	info := corev1.NodeSystemInfo{
		KubeletVersion:          "v1.32.4",
		OSImage:                 "Debian GNU/Linux 12 (bookworm)",
		KernelVersion:           "6.1.0-31-amd64",
		ContainerRuntimeVersion: "shepherd://0.1.0",
	}
	addresses := []corev1.NodeAddress{
		{Type: corev1.NodeHostName, Address: "lab-1"},
		{Type: corev1.NodeInternalIP, Address: "192.168.122.11"},
		{Type: corev1.NodeInternalIP, Address: "fd00::11"},
		{Type: corev1.NodeExternalIP, Address: "203.0.113.11"},
	}

	tests := []struct {
		name string
		node corev1.Node
		want []any
	}{
		{
			name: "ready control plane",
			node: corev1.Node{
				ObjectMeta: objectMeta("lab-1"),
				Status:     corev1.NodeStatus{Conditions: ready(corev1.ConditionTrue), NodeInfo: info, Addresses: addresses},
			},
			want: []any{"lab-1", "Ready", "<none>", "10m", "v1.32.4",
				"192.168.122.11", "203.0.113.11", "Debian GNU/Linux 12 (bookworm)", "6.1.0-31-amd64", "shepherd://0.1.0"},
		},
		{
			name: "not ready and cordoned, with roles",
			node: func() corev1.Node {
				n := corev1.Node{
					ObjectMeta: objectMeta("lab-2"),
					Spec:       corev1.NodeSpec{Unschedulable: true},
					Status:     corev1.NodeStatus{Conditions: ready(corev1.ConditionFalse), NodeInfo: info},
				}
				n.Labels = map[string]string{
					"node-role.kubernetes.io/worker":        "",
					"node-role.kubernetes.io/control-plane": "true",
					"kubernetes.io/role":                    "gpu",
					"node-role.kubernetes.io/":              "", // no role name: ignored
					"kubernetes.io/hostname":                "lab-2",
				}
				return n
			}(),
			want: []any{"lab-2", "NotReady,SchedulingDisabled", "control-plane,gpu,worker", "10m", "v1.32.4",
				"<none>", "<none>", "Debian GNU/Linux 12 (bookworm)", "6.1.0-31-amd64", "shepherd://0.1.0"},
		},
		{
			name: "ready status unknown",
			node: corev1.Node{
				ObjectMeta: objectMeta("lab-3"),
				Status:     corev1.NodeStatus{Conditions: ready(corev1.ConditionUnknown), NodeInfo: info},
			},
			want: []any{"lab-3", "NotReady", "<none>", "10m", "v1.32.4",
				"<none>", "<none>", "Debian GNU/Linux 12 (bookworm)", "6.1.0-31-amd64", "shepherd://0.1.0"},
		},
		{
			name: "never reported, cordoned",
			node: corev1.Node{ObjectMeta: objectMeta("lab-4"), Spec: corev1.NodeSpec{Unschedulable: true}},
			want: []any{"lab-4", "Unknown,SchedulingDisabled", "<none>", "10m", "",
				"<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"},
		},
		{
			name: "same role from both labels, empty role label",
			node: func() corev1.Node {
				n := corev1.Node{ObjectMeta: objectMeta("lab-5"), Status: corev1.NodeStatus{Conditions: ready(corev1.ConditionTrue)}}
				n.Labels = map[string]string{"node-role.kubernetes.io/worker": "", "kubernetes.io/role": "worker"}
				return n
			}(),
			want: []any{"lab-5", "Ready", "worker", "10m", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"},
		},
		{
			name: "empty kubernetes.io/role",
			node: func() corev1.Node {
				n := corev1.Node{ObjectMeta: objectMeta("lab-6"), Status: corev1.NodeStatus{Conditions: ready(corev1.ConditionTrue)}}
				n.Labels = map[string]string{"kubernetes.io/role": ""}
				return n
			}(),
			want: []any{"lab-6", "Ready", "<none>", "10m", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkRow(t, rowOf(t, nodeGVK, &tt.node), tt.want)
		})
	}
}
