package informer_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/storage"
	"github.com/shepherd-lab/shepherd/storage/informer"
	"github.com/shepherd-lab/shepherd/storage/storagetest"
)

// eventWait bounds every wait for the informer: generous, since the tests
// run under the race detector on shared machines.
const eventWait = 20 * time.Second

// change is one handler call.
type change struct {
	typ      watch.EventType // Added, Modified or Deleted
	old, obj runtime.Object  // old only for Modified
}

func (c change) String() string {
	if c.typ == watch.Modified {
		return fmt.Sprintf("%s %s@%s -> @%s", c.typ, name(c.obj), rvOf(c.old), rvOf(c.obj))
	}
	return fmt.Sprintf("%s %s@%s", c.typ, name(c.obj), rvOf(c.obj))
}

// recorder is a Handler that queues every call, in order.
type recorder struct {
	ch chan change
	// gate, when set, holds every OnAdd until it is closed; entered is
	// closed at the first OnAdd.
	gate    chan struct{}
	entered chan struct{}
	once    sync.Once
}

func newRecorder() *recorder { return &recorder{ch: make(chan change, 1000)} }

func (r *recorder) OnAdd(obj runtime.Object) {
	if r.gate != nil {
		r.once.Do(func() { close(r.entered) })
		<-r.gate
	}
	r.ch <- change{typ: watch.Added, obj: obj}
}

func (r *recorder) OnUpdate(old, obj runtime.Object) {
	r.ch <- change{typ: watch.Modified, old: old, obj: obj}
}

func (r *recorder) OnDelete(obj runtime.Object) {
	r.ch <- change{typ: watch.Deleted, obj: obj}
}

// next returns the next handler call, failing the test if none comes.
func (r *recorder) next(t *testing.T) change {
	t.Helper()
	select {
	case c := <-r.ch:
		return c
	case <-time.After(eventWait):
		t.Fatalf("no handler call within %s", eventWait)
		return change{}
	}
}

// expectNone fails if a handler call is already queued.
func (r *recorder) expectNone(t *testing.T) {
	t.Helper()
	select {
	case c := <-r.ch:
		t.Fatalf("unexpected handler call: %s", c)
	default:
	}
}

func newStore(t *testing.T) (*storage.Store, context.Context) {
	t.Helper()
	s := storagetest.NewStore(t, api.Scheme)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return s, ctx
}

// start runs an informer until the test ends, and waits for it to stop
// before the store is closed.
func start(t *testing.T, cfg informer.Config) *informer.Informer {
	t.Helper()
	if cfg.Log == nil {
		cfg.Log = storagetest.Logger(t)
	}
	inf := informer.New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		inf.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(eventWait):
			t.Errorf("informer did not stop within %s of its context ending", eventWait)
		}
	})
	return inf
}

func waitSynced(t *testing.T, inf *informer.Informer) {
	t.Helper()
	select {
	case <-inf.Synced():
	case <-time.After(eventWait):
		t.Fatalf("informer not synced within %s", eventWait)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := inf.WaitSynced(ctx); err != nil {
		t.Fatalf("WaitSynced after Synced closed: %v", err)
	}
}

func configMap(ns, name, value string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Data:       map[string]string{"v": value},
	}
}

func podOn(ns, name, node string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
}

func name(obj runtime.Object) string {
	if obj == nil {
		return "<nil>"
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return "<?>"
	}
	return m.GetNamespace() + "/" + m.GetName()
}

func rvOf(obj runtime.Object) string {
	if obj == nil {
		return ""
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return ""
	}
	return m.GetResourceVersion()
}

func mustCreate(t *testing.T, ctx context.Context, s *storage.Store, r *storage.Resource, obj runtime.Object) runtime.Object {
	t.Helper()
	if err := s.Create(ctx, r, obj); err != nil {
		t.Fatalf("create %s: %v", name(obj), err)
	}
	return obj
}

// mustUpdate applies fn to a copy of cur and stores it, returning the new
// state.
func mustUpdate[T runtime.Object](t *testing.T, ctx context.Context, s *storage.Store, r *storage.Resource, cur T, fn func(T)) T {
	t.Helper()
	next := cur.DeepCopyObject().(T)
	fn(next)
	if err := s.Update(ctx, r, cur, next); err != nil {
		t.Fatalf("update %s: %v", name(cur), err)
	}
	return next
}

func mustDelete(t *testing.T, ctx context.Context, s *storage.Store, r *storage.Resource, ns, n string) {
	t.Helper()
	if _, err := s.Delete(ctx, r, ns, n, nil); err != nil {
		t.Fatalf("delete %s/%s: %v", ns, n, err)
	}
}

// expectChange checks the next handler call: its type, object and
// resourceVersion, and for updates the previous resourceVersion.
func expectChange(t *testing.T, r *recorder, typ watch.EventType, want runtime.Object, wantOld runtime.Object) change {
	t.Helper()
	c := r.next(t)
	if c.typ != typ || name(c.obj) != name(want) {
		t.Fatalf("handler call = %s, want %s of %s", c, typ, name(want))
	}
	if typ != watch.Deleted && rvOf(c.obj) != rvOf(want) {
		t.Fatalf("%s: object at resourceVersion %s, want %s", c, rvOf(c.obj), rvOf(want))
	}
	if typ == watch.Modified {
		if c.old == nil || name(c.old) != name(want) || rvOf(c.old) != rvOf(wantOld) {
			t.Fatalf("%s: old object %s@%s, want %s@%s", c, name(c.old), rvOf(c.old), name(wantOld), rvOf(wantOld))
		}
	}
	return c
}

// TestInformerDeliversListThenChangesInOrder: the objects stored before Run
// arrive as adds before Synced closes; after that every create, update and
// delete arrives once, in order, with the right old and new states.
func TestInformerDeliversListThenChangesInOrder(t *testing.T) {
	s, ctx := newStore(t)
	cms := api.ConfigMaps.Storage
	a := mustCreate(t, ctx, s, cms, configMap("default", "a", "1")).(*corev1.ConfigMap)
	b := mustCreate(t, ctx, s, cms, configMap("default", "b", "1"))
	c := mustCreate(t, ctx, s, cms, configMap("other", "c", "1"))

	rec := newRecorder()
	inf := start(t, informer.Config{Store: s, Resource: cms, Handler: rec})
	waitSynced(t, inf)

	// The list is delivered before Synced closes.
	if len(rec.ch) != 3 {
		t.Fatalf("%d handler calls queued at sync, want 3 adds", len(rec.ch))
	}
	want := map[string]string{name(a): rvOf(a), name(b): rvOf(b), name(c): rvOf(c)}
	for range 3 {
		ch := rec.next(t)
		if ch.typ != watch.Added {
			t.Fatalf("initial list delivered %s, want adds only", ch)
		}
		if rv, ok := want[name(ch.obj)]; !ok || rv != rvOf(ch.obj) {
			t.Fatalf("initial add %s, want one of %v", ch, want)
		}
		delete(want, name(ch.obj))
	}
	rec.expectNone(t)
	if got := len(inf.List()); got != 3 {
		t.Fatalf("informer lists %d objects after sync, want 3", got)
	}
	if got := inf.Get("default", "a"); got == nil || rvOf(got) != rvOf(a) {
		t.Fatalf("Get(default/a) = %v, want a at %s", got, rvOf(a))
	}
	if rev, _ := storage.Revision(c); inf.Revision() < rev {
		t.Fatalf("informer revision %d is before the last create at %d", inf.Revision(), rev)
	}

	d := mustCreate(t, ctx, s, cms, configMap("default", "d", "1"))
	a2 := mustUpdate(t, ctx, s, cms, a, func(cm *corev1.ConfigMap) { cm.Data["v"] = "2" })
	mustDelete(t, ctx, s, cms, "default", "b")
	a3 := mustUpdate(t, ctx, s, cms, a2, func(cm *corev1.ConfigMap) { cm.Data["v"] = "3" })

	expectChange(t, rec, watch.Added, d, nil)
	up := expectChange(t, rec, watch.Modified, a2, a)
	if v := up.obj.(*corev1.ConfigMap).Data["v"]; v != "2" {
		t.Fatalf("update of a carries v=%q, want 2", v)
	}
	if v := up.old.(*corev1.ConfigMap).Data["v"]; v != "1" {
		t.Fatalf("update of a has old v=%q, want 1", v)
	}
	expectChange(t, rec, watch.Deleted, b, nil)
	up = expectChange(t, rec, watch.Modified, a3, a2)
	if v := up.obj.(*corev1.ConfigMap).Data["v"]; v != "3" {
		t.Fatalf("second update of a carries v=%q, want 3", v)
	}

	// Nothing else was delivered: the next call is the sentinel's add.
	sentinel := mustCreate(t, ctx, s, cms, configMap("default", "zz-sentinel", "1"))
	expectChange(t, rec, watch.Added, sentinel, nil)
	rec.expectNone(t)

	if inf.Get("default", "b") != nil {
		t.Fatal("deleted object b is still in the informer's view")
	}
	if got := inf.Get("default", "a"); got == nil || rvOf(got) != rvOf(a3) {
		t.Fatalf("Get(default/a) = %v, want a at %s", got, rvOf(a3))
	}
	if rev, _ := storage.Revision(sentinel); inf.Revision() != rev {
		t.Fatalf("informer revision %d, want %d (the last change)", inf.Revision(), rev)
	}
}

// TestInformerNamespaceScope: an informer of one namespace sees only it.
func TestInformerNamespaceScope(t *testing.T) {
	s, ctx := newStore(t)
	cms := api.ConfigMaps.Storage
	mustCreate(t, ctx, s, cms, configMap("default", "a", "1"))
	x := mustCreate(t, ctx, s, cms, configMap("team", "x", "1"))

	rec := newRecorder()
	inf := start(t, informer.Config{Store: s, Resource: cms, Namespace: "team", Handler: rec})
	waitSynced(t, inf)
	expectChange(t, rec, watch.Added, x, nil)
	rec.expectNone(t)

	mustCreate(t, ctx, s, cms, configMap("default", "b", "1"))
	mustDelete(t, ctx, s, cms, "default", "a")
	y := mustCreate(t, ctx, s, cms, configMap("team", "y", "1"))
	expectChange(t, rec, watch.Added, y, nil)
	rec.expectNone(t)
}

// TestInformerIndexScope: an informer of the pods of one node (the node
// index) is told about exactly that node's pods: a pod bound to it arrives
// as an add, one moved away or deleted as a delete, and nothing about other
// nodes' or unbound pods.
func TestInformerIndexScope(t *testing.T) {
	s, ctx := newStore(t)
	pods := api.Pods.Storage
	p1 := mustCreate(t, ctx, s, pods, podOn("default", "p1", "n1")).(*corev1.Pod)
	p2 := mustCreate(t, ctx, s, pods, podOn("default", "p2", "n2")).(*corev1.Pod)
	p3 := mustCreate(t, ctx, s, pods, podOn("default", "p3", "")).(*corev1.Pod)
	p4 := mustCreate(t, ctx, s, pods, podOn("team", "p4", "n1")).(*corev1.Pod)

	rec := newRecorder()
	inf := start(t, informer.Config{Store: s, Resource: pods, Index: api.NodeIndex, IndexValue: "n1", Handler: rec})
	waitSynced(t, inf)
	want := map[string]string{name(p1): rvOf(p1), name(p4): rvOf(p4)}
	for range 2 {
		ch := rec.next(t)
		if ch.typ != watch.Added || want[name(ch.obj)] != rvOf(ch.obj) {
			t.Fatalf("initial list of n1 delivered %s, want adds of %v", ch, want)
		}
		delete(want, name(ch.obj))
	}
	rec.expectNone(t)

	// Other nodes' pods: nothing.
	mustCreate(t, ctx, s, pods, podOn("default", "p5", "n2"))
	mustUpdate(t, ctx, s, pods, p2, func(p *corev1.Pod) { p.Status.Phase = corev1.PodRunning })
	// p3 is bound to n1: an add.
	p3b := mustUpdate(t, ctx, s, pods, p3, func(p *corev1.Pod) { p.Spec.NodeName = "n1" })
	// p1 changes on n1: an update.
	p1b := mustUpdate(t, ctx, s, pods, p1, func(p *corev1.Pod) { p.Status.Phase = corev1.PodRunning })
	// p4 moves to n2 (the store keeps the index true): a delete.
	mustUpdate(t, ctx, s, pods, p4, func(p *corev1.Pod) { p.Spec.NodeName = "n2" })
	// p1 is deleted: a delete.
	mustDelete(t, ctx, s, pods, "default", "p1")
	p6 := mustCreate(t, ctx, s, pods, podOn("default", "p6", "n1"))

	expectChange(t, rec, watch.Added, p3b, nil)
	up := expectChange(t, rec, watch.Modified, p1b, p1)
	if up.obj.(*corev1.Pod).Status.Phase != corev1.PodRunning {
		t.Fatalf("update of p1 has phase %q, want Running", up.obj.(*corev1.Pod).Status.Phase)
	}
	expectChange(t, rec, watch.Deleted, p4, nil)
	expectChange(t, rec, watch.Deleted, p1, nil)
	expectChange(t, rec, watch.Added, p6, nil)
	rec.expectNone(t)

	var names []string
	for _, o := range inf.List() {
		if n := o.(*corev1.Pod).Spec.NodeName; n != "n1" {
			t.Errorf("n1's informer holds %s bound to %q", name(o), n)
		}
		names = append(names, name(o))
	}
	sort.Strings(names)
	if strings.Join(names, ",") != "default/p3,default/p6" {
		t.Fatalf("n1's informer holds %v, want [default/p3 default/p6]", names)
	}
}

// TestInformerRelistsAfterCompaction: when the revision the informer would
// watch from has been compacted (etcd answers 410), the informer lists
// again and delivers the differences from its view (an add, an update, a
// delete) exactly once, then follows changes from the new list.
//
// The first list is held in the handler after etcd has answered it, while
// the store changes and is compacted past the list's revision: the watch
// that follows must start from a compacted revision.
func TestInformerRelistsAfterCompaction(t *testing.T) {
	s, ctx := newStore(t)
	cms := api.ConfigMaps.Storage
	keep := mustCreate(t, ctx, s, cms, configMap("default", "keep", "1"))
	upd := mustCreate(t, ctx, s, cms, configMap("default", "upd", "1")).(*corev1.ConfigMap)
	del := mustCreate(t, ctx, s, cms, configMap("default", "del", "1"))

	rec := newRecorder()
	rec.gate, rec.entered = make(chan struct{}), make(chan struct{})
	released := false
	release := func() {
		if !released {
			released = true
			close(rec.gate)
		}
	}
	inf := start(t, informer.Config{Store: s, Resource: cms, Handler: rec})
	t.Cleanup(release) // runs before the informer is stopped, if the test fails early
	select {
	case <-rec.entered:
	case <-time.After(eventWait):
		t.Fatal("informer did not deliver its first list")
	}
	// The list has been read; the informer is delivering it.
	created := mustCreate(t, ctx, s, cms, configMap("default", "new", "1"))
	upd2 := mustUpdate(t, ctx, s, cms, upd, func(cm *corev1.ConfigMap) { cm.Data["v"] = "2" })
	mustDelete(t, ctx, s, cms, "default", "del")
	cur, err := s.CurrentRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Compact(ctx, cur); err != nil {
		t.Fatalf("compact to %d: %v", cur, err)
	}
	// A watch from before the changes is indeed refused now.
	firstChange, _ := storage.Revision(created)
	w, err := s.Watch(ctx, cms, storage.WatchOptions{Revision: firstChange - 1})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-w.ResultChan():
		if st, ok := ev.Object.(*metav1.Status); ev.Type != watch.Error || !ok || st.Code != 410 {
			t.Fatalf("watch from a compacted revision delivered %v %v, want a 410 error", ev.Type, ev.Object)
		}
	case <-time.After(eventWait):
		t.Fatal("watch from a compacted revision delivered nothing")
	}
	w.Stop()
	select {
	case <-inf.Synced():
		t.Fatal("informer synced while its handler was still receiving the list")
	default:
	}

	release()
	waitSynced(t, inf)
	// The first list, as it was read.
	first := map[string]string{name(keep): rvOf(keep), name(upd): rvOf(upd), name(del): rvOf(del)}
	for range 3 {
		ch := rec.next(t)
		if ch.typ != watch.Added || first[name(ch.obj)] != rvOf(ch.obj) {
			t.Fatalf("first list delivered %s, want adds of %v", ch, first)
		}
		delete(first, name(ch.obj))
	}
	// The relist's differences, in any order.
	got := map[watch.EventType]change{}
	for range 3 {
		ch := rec.next(t)
		if _, dup := got[ch.typ]; dup {
			t.Fatalf("relist delivered %s after %s", ch, got[ch.typ])
		}
		got[ch.typ] = ch
	}
	if ch := got[watch.Added]; name(ch.obj) != name(created) || rvOf(ch.obj) != rvOf(created) {
		t.Fatalf("relist add = %s, want %s@%s", ch, name(created), rvOf(created))
	}
	if ch := got[watch.Modified]; name(ch.obj) != name(upd2) || rvOf(ch.obj) != rvOf(upd2) || rvOf(ch.old) != rvOf(upd) {
		t.Fatalf("relist update = %s, want %s@%s -> @%s", ch, name(upd), rvOf(upd), rvOf(upd2))
	}
	if ch := got[watch.Deleted]; name(ch.obj) != name(del) {
		t.Fatalf("relist delete = %s, want %s", ch, name(del))
	}
	// The informer follows changes after the relist, and delivered nothing
	// else before them (no second delete of del, no repeat of keep).
	sentinel := mustCreate(t, ctx, s, cms, configMap("default", "zz-sentinel", "1"))
	expectChange(t, rec, watch.Added, sentinel, nil)
	rec.expectNone(t)

	// The view is the store's.
	res, err := s.List(ctx, cms, storage.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]string{}
	for _, o := range res.Items {
		stored[name(o)] = rvOf(o)
	}
	view := map[string]string{}
	for _, o := range inf.List() {
		view[name(o)] = rvOf(o)
	}
	if fmt.Sprint(view) != fmt.Sprint(stored) {
		t.Fatalf("informer view %v, store holds %v", view, stored)
	}
	if inf.Revision() < cur {
		t.Fatalf("informer revision %d is before the compaction at %d", inf.Revision(), cur)
	}
}
