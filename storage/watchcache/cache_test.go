package watchcache_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/shepherd-lab/shepherd/storage"
	"github.com/shepherd-lab/shepherd/storage/storagetest"
	"github.com/shepherd-lab/shepherd/storage/watchcache"
)

var (
	pods = &storage.Resource{
		Name: "pods", Kind: corev1.SchemeGroupVersion.WithKind("Pod"), Namespaced: true,
		New:     func() runtime.Object { return &corev1.Pod{} },
		NewList: func() runtime.Object { return &corev1.PodList{} },
	}
	configMaps = &storage.Resource{
		Name: "configmaps", Kind: corev1.SchemeGroupVersion.WithKind("ConfigMap"), Namespaced: true,
		New:     func() runtime.Object { return &corev1.ConfigMap{} },
		NewList: func() runtime.Object { return &corev1.ConfigMapList{} },
	}
)

type fixture struct {
	t     *testing.T
	ctx   context.Context
	store *storage.Store
	cache *watchcache.Cache
}

func newFixture(t *testing.T, historySize int) *fixture {
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	s := storagetest.NewStore(t, scheme)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	c := watchcache.New(watchcache.Config{
		Store: s, Resource: pods, HistorySize: historySize,
		Encode: func(o runtime.Object) ([]byte, error) { return json.Marshal(o) },
	})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { c.Run(runCtx); close(done) }()
	t.Cleanup(func() { stop(); <-done })
	// The tests' writes must come after the cache's first list, or its
	// history starts after them and a watch from their revisions is 410.
	for !c.Ready() {
		if ctx.Err() != nil {
			t.Fatal("watch cache not ready")
		}
		time.Sleep(time.Millisecond)
	}
	return &fixture{t: t, ctx: ctx, store: s, cache: c}
}

func (f *fixture) create(ns, name string, lbl map[string]string) *corev1.Pod {
	f.t.Helper()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: lbl}}
	if err := f.store.Create(f.ctx, pods, p); err != nil {
		f.t.Fatal(err)
	}
	return p
}

func (f *fixture) relabel(ns, name string, lbl map[string]string) {
	f.t.Helper()
	if _, err := f.store.GuaranteedUpdate(f.ctx, pods, ns, name, func(cur runtime.Object) (runtime.Object, error) {
		cur.(*corev1.Pod).Labels = lbl
		return cur, nil
	}, nil); err != nil {
		f.t.Fatal(err)
	}
}

func names(entries []*watchcache.Entry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.Object.(*corev1.Pod).Name)
	}
	return out
}

func TestConsistentListReadsYourWrites(t *testing.T) {
	f := newFixture(t, 0)
	for i := range 20 {
		f.create("default", fmt.Sprintf("p%02d", i), nil)
		res, err := f.cache.List(f.ctx, watchcache.ListOptions{Consistent: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Entries) != i+1 {
			t.Fatalf("after %d creates a consistent list has %d pods", i+1, len(res.Entries))
		}
	}
	// A write to another resource moves etcd's revision; a consistent list
	// must learn of it through a progress notification, not time out.
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "x"}}
	if err := f.store.Create(f.ctx, configMaps, cm); err != nil {
		t.Fatal(err)
	}
	res, err := f.cache.List(f.ctx, watchcache.ListOptions{Consistent: true})
	if err != nil {
		t.Fatalf("consistent list after another resource's write: %v", err)
	}
	cmRev, _ := storage.Revision(cm)
	if res.Revision < cmRev {
		t.Fatalf("consistent list at %d, before the configmap's revision %d", res.Revision, cmRev)
	}
}

func TestListPagesFromCacheThenEtcd(t *testing.T) {
	f := newFixture(t, 0)
	for i := range 10 {
		f.create("a", fmt.Sprintf("p%02d", i), map[string]string{"even": fmt.Sprint(i%2 == 0)})
		f.create("b", fmt.Sprintf("p%02d", i), nil)
	}
	first, err := f.cache.List(f.ctx, watchcache.ListOptions{Namespace: "a", Limit: 4, Consistent: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(names(first.Entries)); got != "[p00 p01 p02 p03]" || first.Continue == "" {
		t.Fatalf("first page %s (continue %q)", got, first.Continue)
	}
	if first.RemainingItemCount == nil || *first.RemainingItemCount != 6 {
		t.Fatalf("remainingItemCount %v, want 6", first.RemainingItemCount)
	}
	f.create("a", "p05a", nil) // after the first page's revision: not in this list
	seen := names(first.Entries)
	opts := storage.ListOptions{Namespace: "a", Limit: 4, Continue: first.Continue}
	for opts.Continue != "" {
		page, err := f.store.List(f.ctx, pods, opts)
		if err != nil {
			t.Fatal(err)
		}
		if page.Revision != first.Revision {
			t.Fatalf("etcd page at %d, cache page at %d", page.Revision, first.Revision)
		}
		for _, o := range page.Items {
			seen = append(seen, o.(*corev1.Pod).Name)
		}
		opts.Continue = page.Continue
	}
	if fmt.Sprint(seen) != "[p00 p01 p02 p03 p04 p05 p06 p07 p08 p09]" {
		t.Fatalf("paged list %v", seen)
	}
	sel, _ := labels.Parse("even=true")
	filtered, err := f.cache.List(f.ctx, watchcache.ListOptions{Predicate: storage.Predicate{Label: sel}})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(names(filtered.Entries)); got != "[p00 p02 p04 p06 p08]" {
		t.Fatalf("label-selected list %s", got)
	}
}

func recv(t *testing.T, w *watchcache.Watcher, n int) []string {
	t.Helper()
	var out []string
	timeout := time.After(20 * time.Second)
	for len(out) < n {
		select {
		case e, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("watch closed after %v", out)
			}
			m := e.Entry.Object.(*corev1.Pod)
			s := string(e.Type) + " " + m.Name
			if e.Type == watch.Bookmark && m.Annotations[watchcache.InitialEventsEndAnnotation] == "true" {
				s = "BOOKMARK initial-events-end"
			}
			out = append(out, s)
		case <-timeout:
			t.Fatalf("timed out after %v, want %d events", out, n)
		}
	}
	return out
}

func TestWatchModes(t *testing.T) {
	f := newFixture(t, 0)
	a := f.create("default", "a", map[string]string{"app": "web"})
	f.create("default", "b", map[string]string{"app": "db"})
	f.relabel("default", "a", map[string]string{"app": "web", "v": "2"})

	aRev, _ := storage.Revision(a)
	fromA, err := f.cache.Watch(f.ctx, watchcache.WatchOptions{Revision: aRev})
	if err != nil {
		t.Fatal(err)
	}
	defer fromA.Stop()
	if got := fmt.Sprint(recv(t, fromA, 2)); got != "[ADDED b MODIFIED a]" {
		t.Fatalf("watch from a's revision replayed %s", got)
	}

	sel, _ := labels.Parse("app=web")
	state, err := f.cache.Watch(f.ctx, watchcache.WatchOptions{
		InitialState: true, InitialEventsEnd: true, Consistent: true,
		Predicate: storage.Predicate{Label: sel},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer state.Stop()
	if got := fmt.Sprint(recv(t, state, 2)); got != "[ADDED a BOOKMARK initial-events-end]" {
		t.Fatalf("initial state %s", got)
	}
	// b joins the selection, a leaves it, then both are deleted.
	f.relabel("default", "b", map[string]string{"app": "web"})
	f.relabel("default", "a", map[string]string{"app": "db"})
	for _, n := range []string{"a", "b"} {
		if _, err := f.store.Delete(f.ctx, pods, "default", n, nil); err != nil {
			t.Fatal(err)
		}
	}
	if got := fmt.Sprint(recv(t, state, 3)); got != "[ADDED b DELETED a DELETED b]" {
		t.Fatalf("selected watch saw %s", got)
	}
	if got := fmt.Sprint(recv(t, fromA, 4)); got != "[MODIFIED b MODIFIED a DELETED a DELETED b]" {
		t.Fatalf("unfiltered watch saw %s", got)
	}
}

func TestWatchTooOldIsExpired(t *testing.T) {
	f := newFixture(t, 5)
	first := f.create("default", "p0", nil)
	for i := 1; i < 10; i++ {
		f.create("default", fmt.Sprintf("p%d", i), nil)
	}
	if _, err := f.cache.List(f.ctx, watchcache.ListOptions{Consistent: true}); err != nil {
		t.Fatal(err)
	}
	rev, _ := storage.Revision(first)
	_, err := f.cache.Watch(f.ctx, watchcache.WatchOptions{Revision: rev})
	var se *apierrors.StatusError
	if !errors.As(err, &se) || se.ErrStatus.Code != http.StatusGone {
		t.Fatalf("watch from beyond a 5-event history: %v, want 410 Expired", err)
	}
}

func TestManyWatchersEachSeeEveryEventOnce(t *testing.T) {
	f := newFixture(t, 0)
	const watchers, pods = 50, 40
	var ws []*watchcache.Watcher
	for range watchers {
		w, err := f.cache.Watch(f.ctx, watchcache.WatchOptions{Consistent: true, InitialState: true})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		ws = append(ws, w)
	}
	for i := range pods {
		f.create("default", fmt.Sprintf("p%02d", i), nil)
	}
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := recv(t, w, pods)
			for i, s := range got {
				if want := fmt.Sprintf("ADDED p%02d", i); s != want {
					t.Errorf("event %d = %s, want %s", i, s, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestSlowWatcherIsEnded(t *testing.T) {
	f := newFixture(t, 0)
	w, err := f.cache.Watch(f.ctx, watchcache.WatchOptions{Consistent: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	// Never read while more events arrive than the watcher may buffer.
	for i := range 1100 {
		f.create("default", fmt.Sprintf("p%04d", i), nil)
	}
	if _, err := f.cache.List(f.ctx, watchcache.ListOptions{Consistent: true}); err != nil {
		t.Fatal(err)
	}
	n := 0
	for range w.ResultChan() {
		n++
	}
	if n == 0 || n >= 1100 {
		t.Fatalf("slow watcher got %d of 1100 events before ending, want some but not all", n)
	}
}

// etcd sends a progress notification only when every watch on the gRPC
// stream is synced, and a watch waiting for the next revision is not. A
// cache that lists after the last write therefore must not share its
// stream with a cache that needs progress to catch up.
func TestProgressIsNotBlockedByAnIdleWatch(t *testing.T) {
	f := newFixture(t, 0) // the pods cache
	if _, err := f.cache.List(f.ctx, watchcache.ListOptions{Consistent: true}); err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "moves-the-revision"}}
	if err := f.store.Create(f.ctx, configMaps, cm); err != nil {
		t.Fatal(err)
	}
	// A configmaps cache lists at the current revision: its watch waits
	// for the next one.
	cms := watchcache.New(watchcache.Config{Store: f.store, Resource: configMaps,
		Encode: func(o runtime.Object) ([]byte, error) { return json.Marshal(o) }})
	ctx, stop := context.WithCancel(f.ctx)
	done := make(chan struct{})
	go func() { cms.Run(ctx); close(done) }()
	defer func() { stop(); <-done }()
	if _, err := cms.List(f.ctx, watchcache.ListOptions{Consistent: true}); err != nil {
		t.Fatal(err)
	}
	// The pods cache must learn of the configmap's revision from etcd.
	start := time.Now()
	if _, err := f.cache.List(f.ctx, watchcache.ListOptions{Consistent: true}); err != nil {
		t.Fatalf("consistent pods list while another cache's watch is idle: %v (after %s)", err, time.Since(start))
	}
}
