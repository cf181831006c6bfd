package validation

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func runningPod() *corev1.Pod {
	p := validPod()
	p.ResourceVersion = "9"
	p.Spec.NodeName = "node-1"
	p.Status = corev1.PodStatus{
		Phase:    corev1.PodRunning,
		QOSClass: corev1.PodQOSBestEffort,
		HostIP:   "192.168.1.10", HostIPs: []corev1.HostIP{{IP: "192.168.1.10"}},
		PodIP: "10.244.1.5", PodIPs: []corev1.PodIP{{IP: "10.244.1.5"}, {IP: "fd00::5"}},
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionTrue},
			{Type: "example.com/gate", Status: corev1.ConditionFalse},
		},
		ContainerStatuses: []corev1.ContainerStatus{{Name: "nginx", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}},
	}
	return p
}

func TestValidatePodStatusUpdate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(pod, old *corev1.Pod)
		want   []wantErr
	}{
		{"no change", func(_, _ *corev1.Pod) {}, nil},
		{"phase moves on", func(p, _ *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }, nil},
		{"unknown phase", func(p, _ *corev1.Pod) { p.Status.Phase = "Done" }, errs(notSupported("status.phase"))},
		{"unknown condition status", func(p, _ *corev1.Pod) { p.Status.Conditions[0].Status = "Maybe" },
			errs(notSupported("status.conditions[0].status"))},
		{"custom condition type not qualified", func(p, _ *corev1.Pod) { p.Status.Conditions[1].Type = "my gate" },
			errs(invalid("status.conditions[1].type"))},
		{"bad pod IP", func(p, _ *corev1.Pod) {
			p.Status.PodIP = ""
			p.Status.PodIPs = []corev1.PodIP{{IP: "10.244.1.500"}}
		}, errs(invalid("status.podIPs[0]"))},
		{"podIPs not led by podIP", func(p, _ *corev1.Pod) { p.Status.PodIPs[0].IP = "10.244.1.6" },
			errs(invalid("status.podIPs[0].ip"))},
		{"two IPv4 pod IPs", func(p, _ *corev1.Pod) { p.Status.PodIPs[1].IP = "10.244.1.6" }, errs(invalid("status.podIPs"))},
		{"nodeName changed", func(p, _ *corev1.Pod) { p.Spec.NodeName = "node-2" }, errs(forbidden("status.nodeName"))},
		{"qosClass changed", func(p, _ *corev1.Pod) { p.Status.QOSClass = corev1.PodQOSGuaranteed }, errs(invalid("status.qosClass"))},
		{"negative restart count", func(p, _ *corev1.Pod) { p.Status.ContainerStatuses[0].RestartCount = -1 },
			errs(invalid("status.containerStatuses[0].restartCount"))},
		{"terminated container restarted under Never", func(p, old *corev1.Pod) {
			old.Spec.RestartPolicy = corev1.RestartPolicyNever
			p.Spec.RestartPolicy = corev1.RestartPolicyNever
			old.Status.ContainerStatuses[0].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}
		}, errs(forbidden("status.containerStatuses[0].state"))},
		{"failed container restarted under OnFailure", func(p, old *corev1.Pod) {
			old.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
			p.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
			old.Status.ContainerStatuses[0].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			old := runningPod()
			pod := old.DeepCopy()
			tc.mutate(pod, old)
			assertErrors(t, ValidatePodStatusUpdate(pod, old), tc.want)
		})
	}
}
