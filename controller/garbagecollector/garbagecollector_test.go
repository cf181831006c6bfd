package garbagecollector

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/shepherd-lab/shepherd/api"
)

func TestDecide(t *testing.T) {
	for _, tc := range []struct {
		name          string
		states        []ownerState
		hasDependents bool
		want          action
	}{
		{"no owners", nil, false, keep},
		{"owner exists", []ownerState{solid}, false, keep},
		{"owner gone", []ownerState{dangling}, false, deleteBackground},
		{"every owner gone", []ownerState{dangling, dangling}, true, deleteBackground},
		{"one of two owners gone", []ownerState{solid, dangling}, false, dropRefs},
		{"one of two owners deleted in the foreground", []ownerState{waiting, solid}, false, dropRefs},
		{"owner deleted in the foreground", []ownerState{waiting}, false, deleteBackground},
		{"owner deleted in the foreground, dependents of its own", []ownerState{waiting}, true, deleteForeground},
		{"one owner waiting, one gone, dependents of its own", []ownerState{dangling, waiting}, true, deleteForeground},
	} {
		if got := decide(tc.states, tc.hasDependents); got != tc.want {
			t.Errorf("%s: decide(%v, %v) = %v, want %v", tc.name, tc.states, tc.hasDependents, got, tc.want)
		}
	}
}

func TestStateOf(t *testing.T) {
	now := metav1.Now()
	for _, tc := range []struct {
		name  string
		owner metav1.ObjectMeta
		want  ownerState
	}{
		{"same uid", metav1.ObjectMeta{UID: "a"}, solid},
		{"recreated under the name", metav1.ObjectMeta{UID: "b"}, dangling},
		{"deleted in the background", metav1.ObjectMeta{UID: "a", DeletionTimestamp: &now, Finalizers: []string{"x"}}, solid},
		{"deleted in the foreground", metav1.ObjectMeta{UID: "a", DeletionTimestamp: &now, Finalizers: []string{metav1.FinalizerDeleteDependents}}, waiting},
	} {
		if got := stateOf(&corev1.ConfigMap{ObjectMeta: tc.owner}, "a"); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func refs(uids ...types.UID) []metav1.OwnerReference {
	var out []metav1.OwnerReference
	for _, u := range uids {
		out = append(out, metav1.OwnerReference{UID: u})
	}
	return out
}

func depUIDs(g *graph, owner types.UID) []types.UID {
	var out []types.UID
	for _, n := range g.dependentsOf(owner) {
		out = append(out, n.uid)
	}
	slices.Sort(out)
	return out
}

// The graph links owners to dependents both ways as objects come, change
// and go.
func TestGraph(t *testing.T) {
	g := newGraph()
	changed := g.set(&node{res: api.Pods, name: "p1", uid: "p1", owners: refs("rs")})
	if !slices.Equal(changed, []types.UID{"rs"}) {
		t.Fatalf("owners changed by the first sight of p1: %v", changed)
	}
	g.set(&node{res: api.Pods, name: "p2", uid: "p2", owners: refs("rs", "other")})
	if got := depUIDs(g, "rs"); !slices.Equal(got, []types.UID{"p1", "p2"}) {
		t.Fatalf("dependents of rs: %v", got)
	}
	changed = g.set(&node{res: api.Pods, name: "p2", uid: "p2", owners: refs("other")})
	if !slices.Equal(changed, []types.UID{"rs"}) {
		t.Fatalf("owners changed when p2 dropped rs: %v", changed)
	}
	if got := depUIDs(g, "rs"); !slices.Equal(got, []types.UID{"p1"}) {
		t.Fatalf("dependents of rs after p2 dropped it: %v", got)
	}
	g.set(&node{res: api.ReplicaSets, name: "rs", uid: "rs"})
	owners, deps := g.remove("rs")
	if len(owners) != 0 || !slices.Equal(deps, []types.UID{"p1"}) {
		t.Fatalf("remove rs: owners %v dependents %v", owners, deps)
	}
	owners, _ = g.remove("p2")
	if !slices.Equal(owners, []types.UID{"other"}) || len(g.dependentsOf("other")) != 0 || g.get("p2") != nil {
		t.Fatalf("remove p2: owners %v, left %v", owners, g.dependentsOf("other"))
	}
}

// mark deletes at once what nothing holds, and otherwise marks it as the
// apiserver does.
func TestMark(t *testing.T) {
	thirty := int64(corev1.DefaultTerminationGracePeriodSeconds)
	for _, tc := range []struct {
		name       string
		obj        runtime.Object
		policy     metav1.DeletionPropagation
		marked     bool
		finalizers []string
		grace      int64
	}{
		{"free object", &corev1.ConfigMap{}, metav1.DeletePropagationBackground, false, nil, 0},
		{"held by a finalizer", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Finalizers: []string{"x"}}}, metav1.DeletePropagationBackground, true, []string{"x"}, 0},
		{"foreground", &corev1.ConfigMap{}, metav1.DeletePropagationForeground, true, []string{metav1.FinalizerDeleteDependents}, 0},
		{"orphan", &corev1.ConfigMap{}, metav1.DeletePropagationOrphan, true, []string{metav1.FinalizerOrphanDependents}, 0},
		{"unbound pod", &corev1.Pod{}, metav1.DeletePropagationBackground, false, nil, 0},
		{"bound pod", &corev1.Pod{Spec: corev1.PodSpec{NodeName: "n"}}, metav1.DeletePropagationBackground, true, nil, thirty},
		{"finished pod", &corev1.Pod{Spec: corev1.PodSpec{NodeName: "n"}, Status: corev1.PodStatus{Phase: corev1.PodSucceeded}}, metav1.DeletePropagationBackground, false, nil, 0},
	} {
		marked := mark(tc.obj, tc.policy)
		if marked != tc.marked {
			t.Errorf("%s: marked %v, want %v", tc.name, marked, tc.marked)
			continue
		}
		if !marked {
			continue
		}
		m := tc.obj.(metav1.Object)
		if m.GetDeletionTimestamp() == nil || *m.GetDeletionGracePeriodSeconds() != tc.grace || !slices.Equal(m.GetFinalizers(), tc.finalizers) {
			t.Errorf("%s: deletionTimestamp %v grace %v finalizers %v; want grace %d finalizers %v", tc.name,
				m.GetDeletionTimestamp(), *m.GetDeletionGracePeriodSeconds(), m.GetFinalizers(), tc.grace, tc.finalizers)
		}
	}
}

// waitCycle finds the dependents through which an owner deleted in the
// foreground waits on itself. waits maps each object being deleted in the
// foreground to the dependents of it that block it and are so deleted
// themselves.
func TestWaitCycle(t *testing.T) {
	for _, tc := range []struct {
		name  string
		owner types.UID
		waits map[types.UID][]types.UID
		want  []types.UID
	}{
		{"nothing blocks", "a", nil, nil},
		{"a chain ends", "a", map[types.UID][]types.UID{"a": {"b"}, "b": {"c"}}, nil},
		// The conformance test: pod1 owned by pod3, pod2 by pod1, pod3 by
		// pod2, all three deleted in the foreground: pod3 waits on pod1,
		// which waits on pod2, which waits on pod3.
		{"the conformance circle, seen from pod3", "pod3",
			map[types.UID][]types.UID{"pod1": {"pod2"}, "pod2": {"pod3"}, "pod3": {"pod1"}}, []types.UID{"pod1"}},
		{"two owning each other", "a", map[types.UID][]types.UID{"a": {"b"}, "b": {"a"}}, []types.UID{"b"}},
		{"owning itself", "a", map[types.UID][]types.UID{"a": {"a"}}, []types.UID{"a"}},
		{"a cycle below that does not come back", "a",
			map[types.UID][]types.UID{"a": {"b"}, "b": {"c"}, "c": {"b"}}, nil},
		{"only the branch that comes back", "a",
			map[types.UID][]types.UID{"a": {"b", "x"}, "b": {"a"}, "x": {"y"}}, []types.UID{"b"}},
	} {
		got := waitCycle(tc.owner, func(u types.UID) []types.UID { return tc.waits[u] })
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// waitsOn counts only dependents that block their owner and are being
// deleted in the foreground themselves: any other dependent goes by
// itself (or is deleted by the collector), so it does not hold a cycle.
func TestGraphWaitsOn(t *testing.T) {
	yes, no := true, false
	ref := func(owner types.UID, block *bool) []metav1.OwnerReference {
		return []metav1.OwnerReference{{UID: owner, BlockOwnerDeletion: block}}
	}
	g := newGraph()
	g.set(&node{res: api.Pods, name: "waiting", uid: "waiting", owners: ref("o", &yes), foreground: true})
	g.set(&node{res: api.Pods, name: "live", uid: "live", owners: ref("o", &yes)})
	g.set(&node{res: api.Pods, name: "nonblocking", uid: "nonblocking", owners: ref("o", &no), foreground: true})
	if got := g.waitsOn("o"); !slices.Equal(got, []types.UID{"waiting"}) {
		t.Errorf("waitsOn: %v, want [waiting]", got)
	}
}
