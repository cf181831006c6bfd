package storage_test

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/shepherd-lab/shepherd/storage"
)

func TestCreateGetUpdateDelete(t *testing.T) {
	s, ctx := newStore(t), testContext(t)
	p := pod("default", "web", "", map[string]string{"app": "web"})
	if err := s.Create(ctx, pods, p); err != nil {
		t.Fatalf("create: %v", err)
	}
	created := rv(t, p)
	if created == 0 {
		t.Fatal("create did not set a resourceVersion")
	}
	if err := s.Create(ctx, pods, pod("default", "web", "", nil)); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Fatalf("second create: got %v, want ErrAlreadyExists", err)
	}

	got, err := s.Get(ctx, pods, "default", "web")
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if rv(t, got) != created || got.(*corev1.Pod).Labels["app"] != "web" {
		t.Fatalf("get returned %+v at revision %d, want the created pod at %d", got.(*corev1.Pod).ObjectMeta, rv(t, got), created)
	}
	if _, err := s.Get(ctx, pods, "other", "web"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("get in another namespace: got %v, want ErrNotFound", err)
	}

	next := got.DeepCopyObject().(*corev1.Pod)
	next.Labels["app"] = "web2"
	if err := s.Update(ctx, pods, got, next); err != nil {
		t.Fatalf("update: %v", err)
	}
	if rv(t, next) <= created {
		t.Fatalf("update revision %d not after create revision %d", rv(t, next), created)
	}
	// A write based on the old revision is stale.
	stale := got.DeepCopyObject().(*corev1.Pod)
	stale.Labels["app"] = "lost"
	if err := s.Update(ctx, pods, got, stale); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("stale update: got %v, want ErrConflict", err)
	}
	cur, _ := s.Get(ctx, pods, "default", "web")
	if l := cur.(*corev1.Pod).Labels["app"]; l != "web2" {
		t.Fatalf("after stale update the label is %q, want web2", l)
	}

	wrongUID := cur.(*corev1.Pod).UID + "x"
	if _, err := s.Delete(ctx, pods, "default", "web", &storage.Preconditions{UID: &wrongUID}); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("delete with wrong uid precondition: got %v, want ErrConflict", err)
	}
	deleted, err := s.Delete(ctx, pods, "default", "web", nil)
	if err != nil {
		t.Fatalf("delete: %v", err)
	}
	if deleted.(*corev1.Pod).Labels["app"] != "web2" {
		t.Fatalf("delete returned %v, want the last state", deleted.(*corev1.Pod).Labels)
	}
	if _, err := s.Get(ctx, pods, "default", "web"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("get after delete: got %v, want ErrNotFound", err)
	}
	if _, err := s.Delete(ctx, pods, "default", "web", nil); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("second delete: got %v, want ErrNotFound", err)
	}
}

func TestCreateRefusesResourceVersion(t *testing.T) {
	s, ctx := newStore(t), testContext(t)
	p := pod("default", "web", "", nil)
	p.ResourceVersion = "5"
	if err := s.Create(ctx, pods, p); err == nil {
		t.Fatal("create with a resourceVersion succeeded")
	}
}

func TestGuaranteedUpdateLosesNoUpdate(t *testing.T) {
	s, ctx := newStore(t), testContext(t)
	if err := s.Create(ctx, configMaps, &corev1.ConfigMap{ObjectMeta: objectMeta("default", "counter"), Data: map[string]string{"n": "0"}}); err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				_, err := s.GuaranteedUpdate(ctx, configMaps, "default", "counter", func(cur runtime.Object) (runtime.Object, error) {
					cm := cur.(*corev1.ConfigMap)
					n, _ := strconv.Atoi(cm.Data["n"])
					cm.Data["n"] = strconv.Itoa(n + 1)
					return cm, nil
				}, nil)
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, _ := s.Get(ctx, configMaps, "default", "counter")
	if n := got.(*corev1.ConfigMap).Data["n"]; n != strconv.Itoa(workers*each) {
		t.Fatalf("counter = %s after %d increments", n, workers*each)
	}
}

func TestGuaranteedUpdateNoOpWritesNothing(t *testing.T) {
	s, ctx := newStore(t), testContext(t)
	p := pod("default", "web", "", nil)
	if err := s.Create(ctx, pods, p); err != nil {
		t.Fatal(err)
	}
	same := func(cur runtime.Object) (runtime.Object, error) { return cur, nil }
	got, err := s.GuaranteedUpdate(ctx, pods, "default", "web", same, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rv(t, got) != rv(t, p) {
		t.Fatalf("no-op update moved the revision from %d to %d", rv(t, p), rv(t, got))
	}

	// A stale suggestion is not trusted for a no-op: the update is applied to
	// the stored state.
	stale := p.DeepCopyObject()
	if _, err := s.GuaranteedUpdate(ctx, pods, "default", "web", func(cur runtime.Object) (runtime.Object, error) {
		cur.(*corev1.Pod).Labels = map[string]string{"v": "2"}
		return cur, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	got, err = s.GuaranteedUpdate(ctx, pods, "default", "web", func(cur runtime.Object) (runtime.Object, error) {
		cur.(*corev1.Pod).Annotations = map[string]string{"seen": cur.(*corev1.Pod).Labels["v"]}
		return cur, nil
	}, stale)
	if err != nil {
		t.Fatal(err)
	}
	if a := got.(*corev1.Pod).Annotations["seen"]; a != "2" {
		t.Fatalf("update from a stale suggestion saw label v=%q, want 2", a)
	}
}

func TestGuaranteedUpdateNotFound(t *testing.T) {
	s, ctx := newStore(t), testContext(t)
	_, err := s.GuaranteedUpdate(ctx, pods, "default", "missing", func(cur runtime.Object) (runtime.Object, error) { return cur, nil }, nil)
	if !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("got %v, want ErrNotFound", err)
	}
	if want := "/registry/pods/default/missing"; err == nil || !contains(err.Error(), want) {
		t.Fatalf("error %q does not name %s", err, want)
	}
}

func TestClusterScopedKeys(t *testing.T) {
	s, ctx := newStore(t), testContext(t)
	n := &corev1.Node{ObjectMeta: objectMeta("", "node-1")}
	if err := s.Create(ctx, nodes, n); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, nodes, "", "node-1"); err != nil || got.(*corev1.Node).Name != "node-1" {
		t.Fatalf("get node: %v %v", got, err)
	}
	if k := nodes.Key("", "node-1"); k != "/registry/nodes/node-1" {
		t.Fatalf("node key %s", k)
	}
	if k := pods.Key("ns", "p"); k != "/registry/pods/ns/p" {
		t.Fatalf("pod key %s", k)
	}
}

func TestTypedView(t *testing.T) {
	s, ctx := newStore(t), testContext(t)
	typed := storage.NewTyped[*corev1.Pod](s, pods)
	for i := range 3 {
		if err := typed.Create(ctx, pod("default", fmt.Sprintf("p%d", i), "n1", nil)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := typed.GuaranteedUpdate(ctx, "default", "p1", func(p *corev1.Pod) (*corev1.Pod, error) {
		p.Status.Phase = corev1.PodRunning
		return p, nil
	})
	if err != nil || got.Status.Phase != corev1.PodRunning {
		t.Fatalf("typed update: %v %v", got, err)
	}
	list, rev, err := typed.List(ctx, storage.ListOptions{Limit: 2})
	if err != nil || len(list) != 3 || rev < rv(t, got) {
		t.Fatalf("typed list (2 per page) = %d pods at %d, err %v; want 3 at >= %d", len(list), rev, err, rv(t, got))
	}
}

func TestCreateManyIsAllOrNothing(t *testing.T) {
	s, ctx := newStore(t), testContext(t)
	batch := []runtime.Object{pod("default", "a", "n1", nil), pod("default", "b", "", nil)}
	if err := s.CreateMany(ctx, pods, batch); err != nil {
		t.Fatal(err)
	}
	if rv(t, batch[0]) == 0 || rv(t, batch[0]) != rv(t, batch[1]) {
		t.Fatalf("revisions %d and %d, want one non-zero revision", rv(t, batch[0]), rv(t, batch[1]))
	}
	if got := nodePods(t, s, "n1"); len(got) != 1 {
		t.Fatalf("index after CreateMany: %v", got)
	}
	err := s.CreateMany(ctx, pods, []runtime.Object{pod("default", "c", "", nil), pod("default", "a", "", nil)})
	if !errors.Is(err, storage.ErrAlreadyExists) {
		t.Fatalf("batch with a taken key: %v", err)
	}
	if _, err := s.Get(ctx, pods, "default", "c"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("c was stored by a failed batch: %v", err)
	}
}
