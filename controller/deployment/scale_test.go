package deployment

import (
	"reflect"
	"strconv"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/utils/ptr"
)

// sized is rs with d's replica annotations as they were when rs was last
// sized: the Deployment had desired replicas and maxReplicas with surge.
func sized(r *appsv1.ReplicaSet, desired, maxReplicas int32) *appsv1.ReplicaSet {
	r.Annotations = map[string]string{
		DesiredReplicasAnnotation: strconv.Itoa(int(desired)),
		MaxReplicasAnnotation:     strconv.Itoa(int(maxReplicas)),
	}
	return r
}

func TestScaleDecision(t *testing.T) {
	withStatus := func(d *appsv1.Deployment, n int32) *appsv1.Deployment { d.Status.Replicas = n; return d }
	recreate := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](5),
		Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}}}
	for _, tc := range []struct {
		name string
		d    *appsv1.Deployment
		old  []*appsv1.ReplicaSet
		new  *appsv1.ReplicaSet
		want map[string]int32
	}{
		// The conformance test "deployment should support proportional
		// scaling": 10 replicas, maxSurge 3, maxUnavailable 2, a new
		// template that never becomes available holds 5 while the old one
		// holds 8; scaled to 30: 8 + round(20*8/13) and 5 + round(20*5/13).
		{"conformance: 10 to 30 mid-rollout", rollingDeployment(30, 3, 2),
			[]*appsv1.ReplicaSet{sized(rs("old", 0, 8, 8, 8), 10, 13)}, sized(rs("new", 1, 5, 5, 0), 10, 13),
			map[string]int32{"old": 20, "new": 13}},
		{"and back down to 10", rollingDeployment(10, 3, 2),
			[]*appsv1.ReplicaSet{sized(rs("old", 0, 20, 20, 20), 30, 33)}, sized(rs("new", 1, 13, 13, 0), 30, 33),
			map[string]int32{"old": 8, "new": 5}},
		{"a write cut short is completed: old already resized", rollingDeployment(30, 3, 2),
			[]*appsv1.ReplicaSet{sized(rs("old", 0, 20, 8, 8), 30, 33)}, sized(rs("new", 1, 5, 5, 0), 10, 13),
			map[string]int32{"old": 20, "new": 13}},
		{"to zero: every active one to zero", rollingDeployment(0, 3, 2),
			[]*appsv1.ReplicaSet{sized(rs("old", 0, 8, 8, 8), 10, 13)}, sized(rs("new", 1, 5, 5, 0), 10, 13),
			map[string]int32{"old": 0, "new": 0}},
		{"growing: the rounding leftover goes to the newest of the largest", rollingDeployment(4, 0, 1),
			[]*appsv1.ReplicaSet{sized(rs("a", 0, 1, 1, 1), 3, 3), sized(rs("b", 1, 1, 1, 1), 3, 3)}, sized(rs("c", 2, 1, 1, 0), 3, 3),
			map[string]int32{"a": 1, "b": 1, "c": 2}},
		{"shrinking: the rounding leftover comes from the oldest of the largest", rollingDeployment(2, 0, 1),
			[]*appsv1.ReplicaSet{sized(rs("a", 0, 1, 1, 1), 3, 3), sized(rs("b", 1, 1, 1, 1), 3, 3)}, sized(rs("c", 2, 1, 1, 0), 3, 3),
			map[string]int32{"a": 0, "b": 1, "c": 1}},
		{"the largest is served first and the change is never exceeded", rollingDeployment(6, 0, 1),
			[]*appsv1.ReplicaSet{sized(rs("old", 0, 3, 3, 3), 5, 5)}, sized(rs("new", 1, 2, 2, 0), 5, 5),
			map[string]int32{"old": 4, "new": 2}}, // 3*6/5=3.6→4 takes 1 of 1; nothing left for new
		{"no recorded size: the Deployment's pod count stands in", withStatus(rollingDeployment(30, 3, 2), 13),
			[]*appsv1.ReplicaSet{rs("old", 0, 8, 8, 8)}, sized(rs("new", 1, 5, 5, 0), 10, 13),
			map[string]int32{"old": 20, "new": 13}},
		{"nothing recorded anywhere: all to the largest, within the total", withStatus(rollingDeployment(30, 3, 2), 0),
			[]*appsv1.ReplicaSet{rs("old", 0, 8, 8, 8)}, rs("new", 1, 5, 5, 0),
			map[string]int32{"old": 28, "new": 5}},
		{"one active ReplicaSet takes the whole size", rollingDeployment(30, 3, 2),
			[]*appsv1.ReplicaSet{sized(rs("old", 0, 0, 0, 0), 10, 13)}, sized(rs("new", 1, 10, 10, 10), 10, 13),
			map[string]int32{"new": 30}},
		{"none active: the new one takes it", rollingDeployment(3, 1, 1),
			[]*appsv1.ReplicaSet{rs("old", 0, 0, 0, 0)}, rs("new", 1, 0, 0, 0),
			map[string]int32{"new": 3}},
		{"none active and no new one (paused): the newest old one", rollingDeployment(3, 1, 1),
			[]*appsv1.ReplicaSet{rs("older", 0, 0, 0, 0), rs("old", 1, 0, 0, 0)}, nil,
			map[string]int32{"old": 3}},
		{"a saturated new ReplicaSet: the old ones go", rollingDeployment(4, 1, 1),
			[]*appsv1.ReplicaSet{sized(rs("old", 0, 2, 2, 2), 4, 5)}, sized(rs("new", 1, 4, 4, 4), 4, 5),
			map[string]int32{"old": 0}},
		{"recreate with two active: the newest grows", recreate,
			[]*appsv1.ReplicaSet{sized(rs("old", 0, 2, 2, 2), 3, 3)}, sized(rs("new", 1, 1, 1, 1), 3, 3),
			map[string]int32{"old": 2, "new": 3}},
	} {
		got := map[string]int32{}
		for _, r := range scaleDecision(tc.d, tc.new, tc.old) {
			got[r.rs.Name] = r.size
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
