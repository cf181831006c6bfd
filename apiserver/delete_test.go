package apiserver

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/shepherd-lab/shepherd/api"
)

// TestGracePeriod: how long a deleted pod has, as kube-apiserver's pod
// strategy decides it (CheckGracefulDelete).
func TestGracePeriod(t *testing.T) {
	pod := func(node string, grace *int64, phase corev1.PodPhase) *corev1.Pod {
		return &corev1.Pod{
			Spec:   corev1.PodSpec{NodeName: node, TerminationGracePeriodSeconds: grace},
			Status: corev1.PodStatus{Phase: phase},
		}
	}
	cases := []struct {
		name string
		pod  *corev1.Pod
		opt  *int64
		want int64
	}{
		{"unbound", pod("", ptr.To[int64](30), ""), nil, 0},
		{"finished", pod("n", ptr.To[int64](30), corev1.PodSucceeded), nil, 0},
		{"the pod's own", pod("n", ptr.To[int64](20), corev1.PodRunning), nil, 20},
		{"default", pod("n", nil, corev1.PodRunning), nil, 30},
		{"requested", pod("n", ptr.To[int64](20), corev1.PodRunning), ptr.To[int64](5), 5},
		{"requested zero", pod("n", ptr.To[int64](20), corev1.PodRunning), ptr.To[int64](0), 0},
		// Stored before negative values were corrected on write.
		{"negative stored", pod("n", ptr.To[int64](-5), corev1.PodRunning), nil, 1},
	}
	for _, c := range cases {
		if got := gracePeriod(api.Pods, c.pod, &metav1.DeleteOptions{GracePeriodSeconds: c.opt}); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
}
