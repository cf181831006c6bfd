package nodelifecycle

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func taintAt(key string, effect corev1.TaintEffect, at time.Time) corev1.Taint {
	return corev1.Taint{Key: key, Effect: effect, TimeAdded: timePtr(at)}
}

func TestEvictionTime(t *testing.T) {
	unreachable := taintAt(corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute, t0)
	notReady := taintAt(corev1.TaintNodeNotReady, corev1.TaintEffectNoExecute, t0.Add(10*time.Second))
	tol := func(key string, secs *int64) corev1.Toleration {
		return corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: secs}
	}
	now := t0.Add(time.Minute)
	for _, tc := range []struct {
		name        string
		taints      []corev1.Taint
		tolerations []corev1.Toleration
		evict       bool
		at          time.Time
	}{
		{"no taints", nil, nil, false, time.Time{}},
		{"NoSchedule only", []corev1.Taint{{Key: "k", Effect: corev1.TaintEffectNoSchedule}}, nil, false, time.Time{}},
		{"untolerated: at once", []corev1.Taint{unreachable}, nil, true, time.Time{}},
		{"tolerated for 2s from timeAdded", []corev1.Taint{unreachable}, []corev1.Toleration{tol(corev1.TaintNodeUnreachable, ptr.To[int64](2))}, true, t0.Add(2 * time.Second)},
		{"tolerated forever", []corev1.Taint{unreachable}, []corev1.Toleration{tol(corev1.TaintNodeUnreachable, nil)}, false, time.Time{}},
		{"bounded wins over forever", []corev1.Taint{unreachable},
			[]corev1.Toleration{tol(corev1.TaintNodeUnreachable, nil), tol("", ptr.To[int64](7))}, true, t0.Add(7 * time.Second)},
		{"smallest of the matching", []corev1.Taint{unreachable},
			[]corev1.Toleration{tol(corev1.TaintNodeUnreachable, ptr.To[int64](30)), tol(corev1.TaintNodeUnreachable, ptr.To[int64](5))}, true, t0.Add(5 * time.Second)},
		{"earliest of two taints", []corev1.Taint{unreachable, notReady},
			[]corev1.Toleration{tol(corev1.TaintNodeUnreachable, ptr.To[int64](30)), tol(corev1.TaintNodeNotReady, ptr.To[int64](5))}, true, t0.Add(15 * time.Second)},
		{"one taint untolerated", []corev1.Taint{unreachable, notReady},
			[]corev1.Toleration{tol(corev1.TaintNodeUnreachable, nil)}, true, time.Time{}},
		{"no timeAdded: from now", []corev1.Taint{{Key: "k", Effect: corev1.TaintEffectNoExecute}},
			[]corev1.Toleration{tol("k", ptr.To[int64](3))}, true, now.Add(3 * time.Second)},
		{"NoSchedule toleration does not help", []corev1.Taint{unreachable},
			[]corev1.Toleration{{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}, true, time.Time{}},
		{"Equal needs the value", []corev1.Taint{{Key: "k", Value: "v", Effect: corev1.TaintEffectNoExecute}},
			[]corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpEqual, Value: "w"}}, true, time.Time{}},
		{"empty key Exists tolerates all", []corev1.Taint{unreachable, notReady},
			[]corev1.Toleration{{Operator: corev1.TolerationOpExists}}, false, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			at, evict := evictionTime(tc.taints, tc.tolerations, now)
			if evict != tc.evict || !at.Equal(tc.at) {
				t.Errorf("evictionTime = %v, %v; want %v, %v", at, evict, tc.at, tc.evict)
			}
		})
	}
}

func nodeWith(ready corev1.ConditionStatus, taints ...corev1.Taint) *corev1.Node {
	return &corev1.Node{
		Spec:   corev1.NodeSpec{Taints: taints},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready}}},
	}
}

func keys(ts []corev1.Taint) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Key+":"+string(t.Effect))
	}
	return out
}

func TestReconcileTaints(t *testing.T) {
	custom := corev1.Taint{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}
	for _, tc := range []struct {
		name          string
		node          *corev1.Node
		want          []string
		changed, need bool
	}{
		{"ready, untainted", nodeWith(corev1.ConditionTrue, custom), []string{"dedicated:NoSchedule"}, false, false},
		{"never reported: left alone", &corev1.Node{Spec: corev1.NodeSpec{Taints: []corev1.Taint{custom}}}, []string{"dedicated:NoSchedule"}, false, false},
		{"unknown: NoSchedule at once, NoExecute waits its turn", nodeWith(corev1.ConditionUnknown, custom),
			[]string{"dedicated:NoSchedule", "node.kubernetes.io/unreachable:NoSchedule"}, true, true},
		{"not ready", nodeWith(corev1.ConditionFalse),
			[]string{"node.kubernetes.io/not-ready:NoSchedule"}, true, true},
		{"unknown, tainted already", nodeWith(corev1.ConditionUnknown, unreachableNoSchedule, taintAt(corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute, t0)),
			[]string{"node.kubernetes.io/unreachable:NoSchedule", "node.kubernetes.io/unreachable:NoExecute"}, false, false},
		{"back: untainted", nodeWith(corev1.ConditionTrue, custom, unreachableNoSchedule, taintAt(corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute, t0)),
			[]string{"dedicated:NoSchedule"}, true, false},
		{"unreachable to not ready: swapped at once", nodeWith(corev1.ConditionFalse, unreachableNoSchedule, taintAt(corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute, t0)),
			[]string{"node.kubernetes.io/not-ready:NoExecute", "node.kubernetes.io/not-ready:NoSchedule"}, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			changed, need := reconcileTaints(tc.node, t0.Add(time.Minute))
			if got := keys(tc.node.Spec.Taints); changed != tc.changed || need != tc.need || len(got) != len(tc.want) {
				t.Fatalf("taints %v changed %v need %v; want %v %v %v", got, changed, need, tc.want, tc.changed, tc.need)
			}
			for i, k := range keys(tc.node.Spec.Taints) {
				if k != tc.want[i] {
					t.Errorf("taints %v, want %v", keys(tc.node.Spec.Taints), tc.want)
				}
			}
		})
	}
	n := nodeWith(corev1.ConditionUnknown)
	if !addNoExecute(n, t0) || addNoExecute(n, t0) {
		t.Fatal("addNoExecute should add once")
	}
	if got := n.Spec.Taints[0]; got.Key != corev1.TaintNodeUnreachable || !got.TimeAdded.Equal(timePtr(t0)) {
		t.Errorf("added %+v", got)
	}
	if addNoExecute(nodeWith(corev1.ConditionTrue), t0) {
		t.Error("a Ready node got a NoExecute taint")
	}
}

func TestMarkUnknown(t *testing.T) {
	st := &corev1.NodeStatus{Conditions: []corev1.NodeCondition{
		{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady"},
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse},
		{Type: "CgroupLimitsEnforced", Status: corev1.ConditionTrue},
	}}
	if !markUnknown(st, t0) {
		t.Fatal("nothing changed")
	}
	got := map[corev1.NodeConditionType]corev1.NodeCondition{}
	for _, c := range st.Conditions {
		got[c.Type] = c
	}
	for _, typ := range watchedConditions {
		if c := got[typ]; c.Status != corev1.ConditionUnknown {
			t.Errorf("%s: %+v", typ, c)
		}
	}
	if c := got[corev1.NodeReady]; c.Reason != "NodeStatusUnknown" || c.Message != "Kubelet stopped posting node status." || !c.LastTransitionTime.Equal(&metav1.Time{Time: t0}) {
		t.Errorf("Ready: %+v", c)
	}
	if got["CgroupLimitsEnforced"].Status != corev1.ConditionTrue {
		t.Error("a condition of its own changed")
	}
	if markUnknown(st, t0.Add(time.Second)) {
		t.Error("marking again changed something")
	}
}

// Nodes get their NoExecute taint at the zone's rate, in order, each zone
// on its own bucket.
func TestZoneQueuesRate(t *testing.T) {
	z := newZoneQueues(0.1) // one node per 10s, burst 1
	for _, n := range []string{"a", "b", "c"} {
		z.add("", n)
	}
	z.add("", "a") // queued already
	z.add("other", "x")
	at := func(d time.Duration) []string {
		var out []string
		for _, zn := range z.take(t0.Add(d)) {
			out = append(out, zn[0]+"/"+zn[1])
		}
		if len(out) == 2 && out[0] > out[1] {
			out[0], out[1] = out[1], out[0]
		}
		return out
	}
	steps := []struct {
		after time.Duration
		want  []string
	}{
		{0, []string{"/a", "other/x"}},
		{time.Second, nil},
		{9 * time.Second, nil},
		{10 * time.Second, []string{"/b"}},
		{15 * time.Second, nil},
		{20 * time.Second, []string{"/c"}},
		{60 * time.Second, nil},
	}
	for _, s := range steps {
		if got := at(s.after); len(got) != len(s.want) || (len(got) > 0 && got[0] != s.want[0]) {
			t.Fatalf("at +%s: %v, want %v", s.after, got, s.want)
		}
	}
	// A node that recovers leaves the queue; the bucket refilled meanwhile
	// lets one through at once.
	z.add("", "d")
	z.add("", "e")
	z.remove("d")
	if got := at(61 * time.Second); len(got) != 1 || got[0] != "/e" {
		t.Fatalf("after remove: %v", got)
	}
}

func TestMarkEvicted(t *testing.T) {
	running := &corev1.Pod{Spec: corev1.PodSpec{NodeName: "n"}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	changed, remove := markEvicted(running, t0)
	if !changed || remove || running.DeletionTimestamp == nil || !running.DeletionTimestamp.Time.Equal(t0.Add(30*time.Second)) || *running.DeletionGracePeriodSeconds != 30 {
		t.Fatalf("running pod: changed %v remove %v %+v", changed, remove, running.ObjectMeta)
	}
	if c := running.Status.Conditions; len(c) != 1 || c[0].Type != corev1.DisruptionTarget || c[0].Reason != "DeletionByTaintManager" {
		t.Errorf("conditions %+v", c)
	}
	if changed, _ := markEvicted(running, t0.Add(time.Second)); changed {
		t.Error("marked twice")
	}
	done := &corev1.Pod{Spec: corev1.PodSpec{NodeName: "n"}, Status: corev1.PodStatus{Phase: corev1.PodSucceeded}}
	if changed, remove := markEvicted(done, t0); changed || !remove {
		t.Errorf("terminated pod: changed %v remove %v", changed, remove)
	}
	short := &corev1.Pod{Spec: corev1.PodSpec{NodeName: "n", TerminationGracePeriodSeconds: ptr.To[int64](5)}}
	if markEvicted(short, t0); *short.DeletionGracePeriodSeconds != 5 {
		t.Errorf("grace %d", *short.DeletionGracePeriodSeconds)
	}
}
