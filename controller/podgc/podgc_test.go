package podgc

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func pod(name string, phase corev1.PodPhase, age time.Duration) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, CreationTimestamp: metav1.NewTime(t0.Add(-age))},
		Status:     corev1.PodStatus{Phase: phase},
	}
}

func names(pods []*corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}

func TestOverThreshold(t *testing.T) {
	evicted := pod("evicted", corev1.PodFailed, time.Second)
	evicted.Status.Reason = "Evicted"
	pods := []*corev1.Pod{
		pod("new", corev1.PodSucceeded, time.Minute),
		pod("running", corev1.PodRunning, time.Hour),
		pod("old", corev1.PodFailed, 3*time.Minute),
		pod("mid", corev1.PodSucceeded, 2*time.Minute),
		evicted,
	}
	for _, tc := range []struct {
		threshold int
		want      []string
	}{
		{10, nil},
		{4, nil},
		{3, []string{"evicted"}},
		{1, []string{"evicted", "old", "mid"}},
	} {
		got := names(overThreshold(pods, tc.threshold))
		if len(got) != len(tc.want) {
			t.Fatalf("threshold %d: %v, want %v", tc.threshold, got, tc.want)
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Fatalf("threshold %d: %v, want %v", tc.threshold, got, tc.want)
			}
		}
	}
}

func TestTerminatingStranded(t *testing.T) {
	now := metav1.NewTime(t0)
	terminating := func(name, node string) *corev1.Pod {
		p := pod(name, corev1.PodRunning, time.Minute)
		p.Spec.NodeName, p.DeletionTimestamp = node, &now
		return p
	}
	node := func(name string, ready corev1.ConditionStatus, outOfService bool) *corev1.Node {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name},
			Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready}}}}
		if outOfService {
			n.Spec.Taints = []corev1.Taint{{Key: corev1.TaintNodeOutOfService, Value: "nodeshutdown", Effect: corev1.TaintEffectNoExecute}}
		}
		return n
	}
	nodes := map[string]*corev1.Node{
		"oos":      node("oos", corev1.ConditionUnknown, true),
		"notready": node("notready", corev1.ConditionUnknown, false),
		"readyoos": node("readyoos", corev1.ConditionTrue, true),
	}
	pods := []*corev1.Pod{
		terminating("unscheduled", ""),
		terminating("on-oos", "oos"),
		terminating("on-notready", "notready"),
		terminating("on-readyoos", "readyoos"),
		pod("alive", corev1.PodRunning, time.Minute),
	}
	got := names(terminatingStranded(pods, nodes))
	if len(got) != 2 || got[0] != "unscheduled" || got[1] != "on-oos" {
		t.Fatalf("stranded %v, want [unscheduled on-oos]", got)
	}
}
