package namespace

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func TestConditions(t *testing.T) {
	now := time.Now()
	find := func(conds []corev1.NamespaceCondition, typ corev1.NamespaceConditionType) corev1.NamespaceCondition {
		for _, c := range conds {
			if c.Type == typ {
				return c
			}
		}
		t.Fatalf("no %s condition in %+v", typ, conds)
		return corev1.NamespaceCondition{}
	}
	left := content{
		remaining:  map[string]int{"pods": 2, "configmaps": 1},
		finalizers: map[string]int{"example.com/hold": 2},
		errors:     []string{"secrets: boom"},
	}
	conds := left.conditions(now)
	for typ, want := range map[corev1.NamespaceConditionType]corev1.NamespaceCondition{
		corev1.NamespaceContentRemaining: {Status: corev1.ConditionTrue, Reason: "SomeResourcesRemain",
			Message: "Some resources are remaining: configmaps has 1 resource instances, pods has 2 resource instances"},
		corev1.NamespaceFinalizersRemaining: {Status: corev1.ConditionTrue, Reason: "SomeFinalizersRemain",
			Message: "Some content in the namespace has finalizers remaining: example.com/hold in 2 resource instances"},
		corev1.NamespaceDeletionContentFailure: {Status: corev1.ConditionTrue, Reason: "ContentDeletionFailed",
			Message: "Failed to delete all resource types, 1 remaining: secrets: boom"},
		corev1.NamespaceDeletionDiscoveryFailure: {Status: corev1.ConditionFalse, Reason: "ResourcesDiscovered", Message: "All resources successfully discovered"},
	} {
		got := find(conds, typ)
		if got.Status != want.Status || got.Reason != want.Reason || got.Message != want.Message {
			t.Errorf("%s: got %+v, want %+v", typ, got, want)
		}
	}
	clean := content{remaining: map[string]int{}, finalizers: map[string]int{}}.conditions(now)
	if c := find(clean, corev1.NamespaceContentRemaining); c.Status != corev1.ConditionFalse || c.Reason != "ContentRemoved" {
		t.Errorf("content removed: %+v", c)
	}
}

// A condition keeps its transition time while its status holds.
func TestMergeConditions(t *testing.T) {
	t0, t1 := time.Unix(1000, 0), time.Unix(2000, 0)
	first := content{remaining: map[string]int{"pods": 2}, finalizers: map[string]int{}}.conditions(t0)
	second := mergeConditions(first, content{remaining: map[string]int{"pods": 1}, finalizers: map[string]int{}}.conditions(t1))
	var remaining corev1.NamespaceCondition
	for _, c := range second {
		if c.Type == corev1.NamespaceContentRemaining {
			remaining = c
		}
	}
	if !remaining.LastTransitionTime.Time.Equal(t0) || remaining.Message != "Some resources are remaining: pods has 1 resource instances" {
		t.Errorf("status unchanged: %+v", remaining)
	}
	third := mergeConditions(second, content{remaining: map[string]int{}, finalizers: map[string]int{}}.conditions(t1))
	for _, c := range third {
		if c.Type == corev1.NamespaceContentRemaining && (!c.LastTransitionTime.Time.Equal(t1) || c.Status != corev1.ConditionFalse) {
			t.Errorf("status changed: %+v", c)
		}
	}
	if len(third) != len(first) {
		t.Errorf("%d conditions after merging, want %d", len(third), len(first))
	}
}
