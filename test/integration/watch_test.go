package integration

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/shepherd-lab/shepherd/apiserver"
	"github.com/shepherd-lab/shepherd/apiserver/apiservertest"
	"github.com/shepherd-lab/shepherd/storage"
)

func nextEvent(t *testing.T, w watch.Interface) watch.Event {
	t.Helper()
	select {
	case e, ok := <-w.ResultChan():
		if !ok {
			t.Fatal("watch closed")
		}
		return e
	case <-time.After(20 * time.Second):
		t.Fatal("no watch event within 20s")
	}
	return watch.Event{}
}

func describeEvent(e watch.Event) string {
	if p, ok := e.Object.(*corev1.Pod); ok {
		return fmt.Sprintf("%s %s", e.Type, p.Name)
	}
	if st, ok := e.Object.(*metav1.Status); ok {
		return fmt.Sprintf("%s %d", e.Type, st.Code)
	}
	return string(e.Type)
}

func TestWatchOrderResumeAndExpiry(t *testing.T) {
	srv := apiservertest.Start(t, func(o *apiserver.Options) { o.WatchCacheSize = 50 })
	ctx := testCtx(t)
	pods := srv.Client.CoreV1().Pods("default")

	w, err := pods.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	created, err := pods.Create(ctx, newPod("a", nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Patch(ctx, "a", types.MergePatchType, []byte(`{"metadata":{"labels":{"x":"1"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := pods.Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for range 3 {
		got = append(got, describeEvent(nextEvent(t, w)))
	}
	if fmt.Sprint(got) != "[ADDED a MODIFIED a DELETED a]" {
		t.Fatalf("events %v", got)
	}

	// Resume from the creation: the patch and the delete again, in order.
	resumed, err := pods.Watch(ctx, metav1.ListOptions{ResourceVersion: created.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	for range 2 {
		got = append(got, describeEvent(nextEvent(t, resumed)))
	}
	resumed.Stop()
	if fmt.Sprint(got) != "[MODIFIED a DELETED a]" {
		t.Fatalf("resumed events %v", got)
	}

	// Push history past the cache's 50 changes and compact etcd: the old
	// revision is gone, and a watch from it gets 410 Expired.
	cms := srv.Client.CoreV1().ConfigMaps("default")
	for i := range 60 {
		if _, err := pods.Create(ctx, newPod(fmt.Sprintf("filler-%d", i), nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	last, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "last"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rev, _ := storage.ParseRevision(last.ResourceVersion)
	if err := srv.Store.Compact(ctx, rev); err != nil {
		t.Fatal(err)
	}
	expired, err := pods.Watch(ctx, metav1.ListOptions{ResourceVersion: created.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer expired.Stop()
	e := nextEvent(t, expired)
	if st, ok := e.Object.(*metav1.Status); e.Type != watch.Error || !ok || st.Code != http.StatusGone || st.Reason != metav1.StatusReasonExpired {
		t.Fatalf("watch from a compacted revision: %s, want an ERROR event with 410 Expired", describeEvent(e))
	}
	// A list's continue token from before the compaction is expired too.
	if _, err := pods.List(ctx, metav1.ListOptions{Limit: 1, Continue: continueAt(t, srv, created.ResourceVersion)}); !apierrors.IsResourceExpired(err) {
		t.Fatalf("continue from a compacted revision: %v, want 410", err)
	}
}

// continueAt forges the continue token of a list read at rv, by paging a
// list read exactly at rv before compaction would have allowed it.
func continueAt(t *testing.T, srv *apiservertest.Server, rv string) string {
	rev, _ := storage.ParseRevision(rv)
	return storage.ContinueToken(rev, "/registry/pods/default/", "/registry/pods/default/a")
}

func TestWatchFromListSeesEveryChangeOnce(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	pods := srv.Client.CoreV1().Pods("default")
	for i := range 10 {
		if _, err := pods.Create(ctx, newPod(fmt.Sprintf("before-%d", i), nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// Writers keep going while a client lists and then watches from the
	// list's revision: together they see each pod exactly once.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 40 {
			if _, err := pods.Create(ctx, newPod(fmt.Sprintf("during-%d", i), nil), metav1.CreateOptions{}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	list, err := pods.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, p := range list.Items {
		seen[p.Name]++
	}
	w, err := pods.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for len(seen) < 50 {
		e := nextEvent(t, w)
		if e.Type != watch.Added {
			t.Fatalf("unexpected %s", describeEvent(e))
		}
		seen[e.Object.(*corev1.Pod).Name]++
	}
	wg.Wait()
	for name, n := range seen {
		if n != 1 {
			t.Fatalf("%s seen %d times", name, n)
		}
	}
}

func TestWatchBookmarksAndWatchList(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	pods := srv.Client.CoreV1().Pods("default")
	for _, n := range []string{"a", "b"} {
		if _, err := pods.Create(ctx, newPod(n, nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	yes := true
	w, err := pods.Watch(ctx, metav1.ListOptions{
		SendInitialEvents: &yes, AllowWatchBookmarks: true,
		ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var got []string
	for range 3 {
		e := nextEvent(t, w)
		s := describeEvent(e)
		if e.Type == watch.Bookmark {
			p := e.Object.(*corev1.Pod)
			s = "BOOKMARK " + p.Annotations[metav1.InitialEventsAnnotationKey]
		}
		got = append(got, s)
	}
	if fmt.Sprint(got) != "[ADDED a ADDED b BOOKMARK true]" {
		t.Fatalf("watch-list stream %v", got)
	}
}

func TestWatchTimeoutSeconds(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	timeout := int64(1)
	start := time.Now()
	w, err := srv.Client.CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{TimeoutSeconds: &timeout})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for range w.ResultChan() {
	}
	if d := time.Since(start); d < time.Second || d > 10*time.Second {
		t.Fatalf("a watch with timeoutSeconds=1 ended after %s", d)
	}
}
