package storage_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/shepherd-lab/shepherd/storage"
)

func fmtObj(o runtime.Object) string {
	if st, ok := o.(*metav1.Status); ok {
		return fmt.Sprintf("status %d %s", st.Code, st.Reason)
	}
	return fmt.Sprintf("%T", o)
}

func TestWatchOrderAndResume(t *testing.T) {
	s, ctx := newStore(t), testContext(t)
	w, err := s.Watch(ctx, pods, storage.WatchOptions{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	p := pod("default", "web", "", nil)
	if err := s.Create(ctx, pods, p); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, pods, pod("other", "ignored", "", nil)); err != nil {
		t.Fatal(err)
	}
	updated, err := s.GuaranteedUpdate(ctx, pods, "default", "web", func(cur runtime.Object) (runtime.Object, error) {
		cur.(*corev1.Pod).Labels = map[string]string{"v": "2"}
		return cur, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete(ctx, pods, "default", "web", nil); err != nil {
		t.Fatal(err)
	}
	events := expectEvents(t, w, []string{"ADDED web", "MODIFIED web", "DELETED web"})
	if rv(t, events[0].Object) != rv(t, p) || rv(t, events[1].Object) != rv(t, updated) {
		t.Fatalf("event revisions %d, %d; want %d, %d", rv(t, events[0].Object), rv(t, events[1].Object), rv(t, p), rv(t, updated))
	}
	if deleted := events[2].Object.(*corev1.Pod); deleted.Labels["v"] != "2" || rv(t, deleted) <= rv(t, updated) {
		t.Fatalf("DELETED carries %v at %d; want the last state at the deletion revision", deleted.Labels, rv(t, deleted))
	}

	// Resuming after the ADDED event replays the rest, in order.
	resumed, err := s.Watch(ctx, pods, storage.WatchOptions{Namespace: "default", Revision: rv(t, p)})
	if err != nil {
		t.Fatal(err)
	}
	defer resumed.Stop()
	expectEvents(t, resumed, []string{"MODIFIED web", "DELETED web"})
}

func TestWatchExpiredAfterCompaction(t *testing.T) {
	s, ctx := newStore(t), testContext(t)
	first := pod("default", "a", "", nil)
	if err := s.Create(ctx, pods, first); err != nil {
		t.Fatal(err)
	}
	second := pod("default", "b", "", nil)
	if err := s.Create(ctx, pods, second); err != nil {
		t.Fatal(err)
	}
	if err := s.Compact(ctx, rv(t, second)); err != nil {
		t.Fatal(err)
	}
	w, err := s.Watch(ctx, pods, storage.WatchOptions{Revision: rv(t, first) - 1})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	e := <-w.ResultChan()
	st, ok := e.Object.(*metav1.Status)
	if e.Type != watch.Error || !ok || st.Code != http.StatusGone || st.Reason != metav1.StatusReasonExpired {
		t.Fatalf("got %s %s, want an Error event with 410 Expired", e.Type, fmtObj(e.Object))
	}
	if _, ok := <-w.ResultChan(); ok {
		t.Fatal("watch stayed open after the expiry error")
	}
}

func TestWatchPredicateTransitions(t *testing.T) {
	s, ctx := newStore(t), testContext(t)
	w, err := s.Watch(ctx, pods, storage.WatchOptions{
		Predicate: storage.Predicate{Label: labels.SelectorFromSet(labels.Set{"app": "web"})},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	setApp := func(app string) {
		t.Helper()
		if _, err := s.GuaranteedUpdate(ctx, pods, "default", "p", func(cur runtime.Object) (runtime.Object, error) {
			cur.(*corev1.Pod).Labels = map[string]string{"app": app}
			return cur, nil
		}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Create(ctx, pods, pod("default", "p", "", map[string]string{"app": "db"})); err != nil {
		t.Fatal(err)
	}
	setApp("web") // starts matching
	setApp("web") // no-op: no event
	if _, err := s.GuaranteedUpdate(ctx, pods, "default", "p", func(cur runtime.Object) (runtime.Object, error) {
		cur.(*corev1.Pod).Annotations = map[string]string{"x": "y"}
		return cur, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	setApp("db") // stops matching
	setApp("web")
	if _, err := s.Delete(ctx, pods, "default", "p", nil); err != nil {
		t.Fatal(err)
	}
	events := expectEvents(t, w, []string{"ADDED p", "MODIFIED p", "DELETED p", "ADDED p", "DELETED p"})
	if app := events[2].Object.(*corev1.Pod).Labels["app"]; app != "web" {
		t.Fatalf("the DELETED event for leaving the selector carries app=%s, want the last matching state", app)
	}
}

func TestWatchProgressBookmarks(t *testing.T) {
	s, ctx := newStore(t), testContext(t)
	w, err := s.Watch(ctx, pods, storage.WatchOptions{ProgressNotify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	// A write to another resource moves the revision without a pod event.
	n := &corev1.Node{ObjectMeta: objectMeta("", "n1")}
	if err := s.Create(ctx, nodes, n); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(20 * time.Second)
	for {
		if err := w.RequestProgress(); err != nil {
			t.Fatal(err)
		}
		select {
		case e := <-w.ResultChan():
			if e.Type != watch.Bookmark {
				t.Fatalf("got %s, want only bookmarks", e.Type)
			}
			if rv(t, e.Object) >= rv(t, n) {
				return
			}
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			t.Fatal("no bookmark at or after the node's revision")
		}
	}
}

func TestWatchStop(t *testing.T) {
	s, ctx := newStore(t), testContext(t)
	w, err := s.Watch(ctx, pods, storage.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Fill the buffer past capacity so the watch goroutine is blocked sending.
	for i := range 300 {
		if err := s.Create(ctx, pods, pod("default", fmt.Sprintf("p%d", i), "", nil)); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan struct{})
	go func() { w.Stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not return while the watch was blocked on a full buffer")
	}
}
