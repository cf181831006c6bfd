package storage_test

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/shepherd-lab/shepherd/storage"
)

func nodePods(t *testing.T, s *storage.Store, node string) []string {
	t.Helper()
	res, err := s.List(testContext(t), pods, storage.ListOptions{Index: "node", IndexValue: node})
	if err != nil {
		t.Fatalf("list pods of %s: %v", node, err)
	}
	var names []string
	for _, o := range res.Items {
		p := o.(*corev1.Pod)
		if p.Spec.NodeName != node {
			t.Fatalf("index of %s lists pod %s bound to %q", node, p.Name, p.Spec.NodeName)
		}
		names = append(names, p.Name)
	}
	return names
}

func TestNodeIndexFollowsEveryWrite(t *testing.T) {
	s, ctx := newStore(t), testContext(t)
	// Created bound, created unbound then bound, updated, deleted.
	if err := s.Create(ctx, pods, pod("default", "a", "n1", nil)); err != nil {
		t.Fatal(err)
	}
	b := pod("default", "b", "", nil)
	if err := s.Create(ctx, pods, b); err != nil {
		t.Fatal(err)
	}
	if got := nodePods(t, s, "n1"); len(got) != 1 || got[0] != "a" {
		t.Fatalf("n1 index = %v, want [a]", got)
	}
	bound := b.DeepCopy()
	bound.Spec.NodeName = "n1"
	if err := s.Update(ctx, pods, b, bound); err != nil {
		t.Fatal(err)
	}
	if got := nodePods(t, s, "n1"); len(got) != 2 {
		t.Fatalf("n1 index after binding b = %v, want [a b]", got)
	}
	// The index entry mirrors status writes, at the object's revision.
	running, err := s.GuaranteedUpdate(ctx, pods, "default", "b", func(cur runtime.Object) (runtime.Object, error) {
		cur.(*corev1.Pod).Status.Phase = corev1.PodRunning
		return cur, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, _ := s.List(ctx, pods, storage.ListOptions{Index: "node", IndexValue: "n1", Namespace: "default"})
	for _, o := range res.Items {
		if p := o.(*corev1.Pod); p.Name == "b" && (p.Status.Phase != corev1.PodRunning || p.ResourceVersion != running.(*corev1.Pod).ResourceVersion) {
			t.Fatalf("index copy of b: phase %q rv %s, want Running at %s", p.Status.Phase, p.ResourceVersion, running.(*corev1.Pod).ResourceVersion)
		}
	}
	// Moving a pod (not something the API allows, but the store must keep
	// the index true) moves its entry.
	if _, err := s.GuaranteedUpdate(ctx, pods, "default", "a", func(cur runtime.Object) (runtime.Object, error) {
		cur.(*corev1.Pod).Spec.NodeName = "n2"
		return cur, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	if got := nodePods(t, s, "n2"); len(got) != 1 || got[0] != "a" {
		t.Fatalf("n2 index = %v, want [a]", got)
	}
	if _, err := s.Delete(ctx, pods, "default", "b", nil); err != nil {
		t.Fatal(err)
	}
	if got := nodePods(t, s, "n1"); len(got) != 0 {
		t.Fatalf("n1 index after deleting b and moving a = %v, want empty", got)
	}
	if _, err := s.List(ctx, pods, storage.ListOptions{Index: "zone", IndexValue: "x"}); err == nil {
		t.Fatal("listing an undefined index succeeded")
	}
}

func TestIndexWatchSeesOnlyItsNode(t *testing.T) {
	s, ctx := newStore(t), testContext(t)
	w, err := s.Watch(ctx, pods, storage.WatchOptions{Index: "node", IndexValue: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if err := s.Create(ctx, pods, pod("default", "elsewhere", "n2", nil)); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, pods, pod("default", "unbound", "", nil)); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, pods, pod("default", "mine", "n1", nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete(ctx, pods, "default", "mine", nil); err != nil {
		t.Fatal(err)
	}
	expectEvents(t, w, []string{"ADDED mine", "DELETED mine"})
}

func TestClaimsAreUnique(t *testing.T) {
	s, ctx := newStore(t), testContext(t)
	cm := func(name, claim string) *corev1.ConfigMap {
		c := &corev1.ConfigMap{ObjectMeta: objectMeta("default", name)}
		c.Annotations = map[string]string{"claim": claim}
		return c
	}
	a := cm("a", "x")
	if err := s.Create(ctx, configMaps, a); err != nil {
		t.Fatal(err)
	}
	err := s.Create(ctx, configMaps, cm("b", "x"))
	var ce *storage.ClaimedError
	if !errors.As(err, &ce) || !errors.Is(err, storage.ErrClaimed) || ce.Claim != "test/x" || ce.Owner != "/registry/configmaps/default/a" {
		t.Fatalf("second claim of x: got %v, want a ClaimedError for test/x held by a", err)
	}
	if _, err := s.Get(ctx, configMaps, "default", "b"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("b was stored despite the failed claim: %v", err)
	}
	// a moves to claim y; x is free again.
	a2 := a.DeepCopy()
	a2.Annotations["claim"] = "y"
	if err := s.Update(ctx, configMaps, a, a2); err != nil {
		t.Fatal(err)
	}
	b := cm("b", "x")
	if err := s.Create(ctx, configMaps, b); err != nil {
		t.Fatalf("claim x after a released it: %v", err)
	}
	// b may not take y by update.
	b2 := b.DeepCopy()
	b2.Annotations["claim"] = "y"
	if err := s.Update(ctx, configMaps, b, b2); !errors.As(err, &ce) || ce.Claim != "test/y" {
		t.Fatalf("update b to claim y: got %v, want ClaimedError for test/y", err)
	}
	// Deleting a frees y.
	if _, err := s.Delete(ctx, configMaps, "default", "a", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, configMaps, b, b2); err != nil {
		t.Fatalf("claim y after a was deleted: %v", err)
	}
}

// expectEvents reads len(want) events ("TYPE name") and fails on any other.
func expectEvents(t *testing.T, w watch.Interface, want []string) []watch.Event {
	t.Helper()
	var got []watch.Event
	ctx := testContext(t)
	for i := range want {
		select {
		case e, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("watch closed after %d events, want %v", i, want)
			}
			got = append(got, e)
			if s := describe(e); s != want[i] {
				t.Fatalf("event %d = %s, want %s", i, s, want[i])
			}
		case <-ctx.Done():
			t.Fatalf("timed out waiting for event %d (%s)", i, want[i])
		}
	}
	return got
}

func describe(e watch.Event) string {
	switch o := e.Object.(type) {
	case *corev1.Pod:
		return string(e.Type) + " " + o.Name
	case *corev1.ConfigMap:
		return string(e.Type) + " " + o.Name
	default:
		return string(e.Type) + " " + fmtObj(o)
	}
}
