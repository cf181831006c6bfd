package replicaset

import (
	"errors"
	"reflect"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestSlowStartBatches(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want []int
	}{
		{0, nil}, {1, []int{1}}, {3, []int{1, 2}}, {5, []int{1, 2, 2}}, {10, []int{1, 2, 4, 3}}, {15, []int{1, 2, 4, 8}},
	} {
		if got := slowStartBatches(tc.n); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("slowStartBatches(%d) = %v, want %v", tc.n, got, tc.want)
		}
	}
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// pod makes a pod for the ranking tests.
func pod(name, node string, phase corev1.PodPhase, ready bool, readySince, created time.Duration, restarts int32) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(t0.Add(created))},
		Spec:       corev1.PodSpec{NodeName: node},
		Status:     corev1.PodStatus{Phase: phase, ContainerStatuses: []corev1.ContainerStatus{{RestartCount: restarts}}},
	}
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status, LastTransitionTime: metav1.NewTime(t0.Add(readySince))}}
	return p
}

// The pods deleted first when scaling down, as Kubernetes ranks them.
func TestDeleteOrder(t *testing.T) {
	for _, tc := range []struct {
		name        string
		first, then *corev1.Pod
	}{
		{"unscheduled before scheduled", pod("a", "", corev1.PodPending, false, 0, 0, 0), pod("b", "n", corev1.PodPending, false, 0, 0, 0)},
		{"pending before running", pod("a", "n", corev1.PodPending, false, 0, 0, 0), pod("b", "n", corev1.PodRunning, false, 0, 0, 0)},
		{"not ready before ready", pod("a", "n", corev1.PodRunning, false, 0, 0, 0), pod("b", "n", corev1.PodRunning, true, 0, 0, 0)},
		{"ready for less time first", pod("a", "n", corev1.PodRunning, true, time.Minute, 0, 0), pod("b", "n", corev1.PodRunning, true, 0, 0, 0)},
		{"more restarts first", pod("a", "n", corev1.PodRunning, true, 0, 0, 3), pod("b", "n", corev1.PodRunning, true, 0, 0, 1)},
		{"newer first", pod("a", "n", corev1.PodRunning, true, 0, time.Hour, 0), pod("b", "n", corev1.PodRunning, true, 0, 0, 0)},
	} {
		if !deleteFirst(tc.first, tc.then) || deleteFirst(tc.then, tc.first) {
			t.Errorf("%s: order not respected", tc.name)
		}
		got := podsToDelete([]*corev1.Pod{tc.then, tc.first}, 1)
		if got[0] != tc.first {
			t.Errorf("%s: podsToDelete chose %s", tc.name, got[0].Name)
		}
	}
}

func TestExpectations(t *testing.T) {
	e := NewExpectations()
	now := t0
	e.now = func() time.Time { return now }
	if !e.Satisfied("ns/rs") {
		t.Fatal("nothing expected yet")
	}
	e.Expect("ns/rs", []string{"a", "b"}, []string{"c"})
	e.Created("ns/rs", "a")
	e.Created("ns/rs", "a") // seen twice: no harm
	e.Created("ns/other", "b")
	e.Deleted("ns/rs", "c")
	if e.Satisfied("ns/rs") {
		t.Fatal("b not seen yet")
	}
	now = now.Add(ExpectationsTimeout + time.Second)
	if !e.Satisfied("ns/rs") {
		t.Fatal("expectations did not time out")
	}
	e.Expect("ns/rs", []string{"d"}, nil)
	e.Created("ns/rs", "d")
	if !e.Satisfied("ns/rs") {
		t.Fatal("all seen")
	}
}

func TestComputeStatus(t *testing.T) {
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Generation: 4},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](3), MinReadySeconds: 10,
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x", "tier": "web"}}}},
	}
	now := t0.Add(time.Minute)
	full := map[string]string{"app": "x", "tier": "web"}
	a := pod("a", "n", corev1.PodRunning, true, 0, 0, 0) // ready a minute: available
	a.Labels = full
	b := pod("b", "n", corev1.PodRunning, true, 55*time.Second, 0, 0) // ready 5 s: not yet available
	b.Labels = full
	c := pod("c", "n", corev1.PodPending, false, 0, 0, 0)
	c.Labels = map[string]string{"app": "x"}
	st := computeStatus(rs, []*corev1.Pod{a, b, c}, errors.New("quota"), now)
	want := appsv1.ReplicaSetStatus{Replicas: 3, FullyLabeledReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 1, ObservedGeneration: 4}
	if len(st.Conditions) != 1 || st.Conditions[0].Type != appsv1.ReplicaSetReplicaFailure || st.Conditions[0].Reason != "FailedCreate" {
		t.Errorf("conditions %+v", st.Conditions)
	}
	rs.Status = st
	st.Conditions = nil
	if !reflect.DeepEqual(st, want) {
		t.Errorf("status %+v, want %+v", st, want)
	}
	if st := computeStatus(rs, []*corev1.Pod{a, b, c}, nil, now); len(st.Conditions) != 0 {
		t.Errorf("ReplicaFailure kept after a success: %+v", st.Conditions)
	}
}

func TestGenerateName(t *testing.T) {
	long := "a-very-long-replica-set-name-that-goes-on-and-on-and-on-forever-"
	if n := GenerateName(long); len(n) != 63 || n[:58] != long[:58] {
		t.Errorf("GenerateName(long) = %q", n)
	}
	if n := GenerateName("web-"); len(n) != 9 || n[:4] != "web-" {
		t.Errorf("GenerateName(web-) = %q", n)
	}
}
