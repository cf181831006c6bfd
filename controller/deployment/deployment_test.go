package deployment

import (
	"reflect"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func TestResolveFenceposts(t *testing.T) {
	for _, tc := range []struct {
		surge, unavail     intstr.IntOrString
		replicas           int32
		wantSurge, wantMax int32
	}{
		{intstr.FromString("25%"), intstr.FromString("25%"), 10, 3, 2}, // surge rounds up, unavailable down
		{intstr.FromString("25%"), intstr.FromString("25%"), 1, 1, 0},
		{intstr.FromInt32(0), intstr.FromInt32(0), 3, 0, 1}, // never stuck
		{intstr.FromInt32(2), intstr.FromString("50%"), 5, 2, 2},
	} {
		s, u := resolveFenceposts(&tc.surge, &tc.unavail, tc.replicas)
		if s != tc.wantSurge || u != tc.wantMax {
			t.Errorf("%v/%v of %d: surge %d unavailable %d, want %d %d", tc.surge.String(), tc.unavail.String(), tc.replicas, s, u, tc.wantSurge, tc.wantMax)
		}
	}
}

func rollingDeployment(n int32, surge, unavail int) *appsv1.Deployment {
	return &appsv1.Deployment{Spec: appsv1.DeploymentSpec{
		Replicas: ptr.To(n),
		Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
			MaxSurge: ptr.To(intstr.FromInt(surge)), MaxUnavailable: ptr.To(intstr.FromInt(unavail)),
		}},
	}}
}

func rs(name string, age int, spec, status, available int32) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(time.Unix(int64(age), 0))},
		Spec:       appsv1.ReplicaSetSpec{Replicas: ptr.To(spec)},
		Status:     appsv1.ReplicaSetStatus{Replicas: status, AvailableReplicas: available},
	}
}

func TestNewRSReplicas(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    *appsv1.Deployment
		old  *appsv1.ReplicaSet
		new  *appsv1.ReplicaSet
		want int32
	}{
		{"surge one", rollingDeployment(4, 1, 1), rs("old", 0, 4, 4, 4), rs("new", 1, 0, 0, 0), 1},
		{"at the surge limit", rollingDeployment(4, 1, 1), rs("old", 0, 4, 4, 4), rs("new", 1, 1, 1, 0), 1},
		{"old pods not yet gone count", rollingDeployment(4, 1, 1), rs("old", 0, 3, 4, 3), rs("new", 1, 1, 1, 1), 1},
		{"old pods gone", rollingDeployment(4, 1, 1), rs("old", 0, 3, 3, 3), rs("new", 1, 1, 1, 1), 2},
		{"never beyond replicas", rollingDeployment(4, 3, 1), rs("old", 0, 0, 0, 0), rs("new", 1, 3, 3, 3), 4},
	} {
		if got := newRSReplicas(tc.d, []*appsv1.ReplicaSet{tc.old, tc.new}, tc.new); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestOldScaleDowns(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    *appsv1.Deployment
		old  []*appsv1.ReplicaSet
		new  *appsv1.ReplicaSet
		want map[string]int32
	}{
		{"keeps minimum availability", rollingDeployment(4, 1, 1), []*appsv1.ReplicaSet{rs("old", 0, 4, 4, 4)}, rs("new", 1, 1, 1, 0),
			map[string]int32{"old": 3}},
		{"new pod available", rollingDeployment(4, 1, 1), []*appsv1.ReplicaSet{rs("old", 0, 3, 3, 3)}, rs("new", 1, 2, 2, 1),
			map[string]int32{"old": 2}},
		{"nothing to spare", rollingDeployment(4, 1, 0), []*appsv1.ReplicaSet{rs("old", 0, 4, 4, 4)}, rs("new", 1, 1, 1, 0),
			map[string]int32{}},
		{"unhealthy first, oldest first", rollingDeployment(4, 1, 0),
			[]*appsv1.ReplicaSet{rs("older", 0, 2, 2, 0), rs("old", 1, 3, 3, 3)}, rs("new", 2, 1, 1, 1),
			map[string]int32{"older": 0}},
		{"stale status never counts more than the spec", rollingDeployment(4, 1, 1), []*appsv1.ReplicaSet{rs("old", 0, 3, 4, 4)}, rs("new", 1, 1, 1, 0),
			map[string]int32{}},
	} {
		if got := oldScaleDowns(tc.d, tc.old, tc.new); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestComputeHash(t *testing.T) {
	tmpl := &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox:1"}}},
	}
	h := ComputeHash(tmpl, nil)
	if h != ComputeHash(tmpl.DeepCopy(), nil) {
		t.Error("hash not stable")
	}
	for _, r := range h {
		if !containsRune("bcdfghjklmnpqrstvwxz2456789", r) {
			t.Errorf("hash %q has %q, outside the safe alphabet", h, r)
		}
	}
	if h == ComputeHash(tmpl, ptr.To[int32](1)) {
		t.Error("the collision count does not change the hash")
	}
	other := tmpl.DeepCopy()
	other.Spec.Containers[0].Image = "busybox:2"
	if h == ComputeHash(other, nil) {
		t.Error("different templates hash alike")
	}
	withHash := tmpl.DeepCopy()
	withHash.Labels[appsv1.DefaultDeploymentUniqueLabelKey] = h
	if !equalIgnoreHash(tmpl, withHash) || equalIgnoreHash(tmpl, other) {
		t.Error("equalIgnoreHash")
	}
}

func containsRune(s string, r rune) bool {
	for _, c := range s {
		if c == r {
			return true
		}
	}
	return false
}

func TestConditions(t *testing.T) {
	d := rollingDeployment(2, 1, 0)
	d.Generation = 3
	d.Spec.ProgressDeadlineSeconds = ptr.To[int32](60)
	now := time.Unix(1000, 0)
	st := appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 2, UpdatedReplicas: 2, AvailableReplicas: 2}
	if !complete(d, &st) {
		t.Error("complete rollout not complete")
	}
	st.AvailableReplicas = 1
	if complete(d, &st) {
		t.Error("an unavailable replica counts as complete")
	}
	st.Conditions = []appsv1.DeploymentCondition{newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonRSUpdated, "", now.Add(-61*time.Second))}
	if !timedOut(d, &st, now) {
		t.Error("no progress for longer than the deadline is not a time-out")
	}
	st.Conditions[0].LastUpdateTime = metav1.NewTime(now.Add(-59 * time.Second))
	if timedOut(d, &st, now) {
		t.Error("timed out before the deadline")
	}
}
