package events_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"

	"github.com/shepherd-lab/shepherd/admission/admissiontest"
	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/events"
	"github.com/shepherd-lab/shepherd/storage"
	"github.com/shepherd-lab/shepherd/storage/storagetest"
)

// wait bounds every wait for the recorder: generous, since the tests run
// under the race detector on shared machines.
const wait = 20 * time.Second

// setup returns a store and a recorder on it; run starts the recorder until
// the test ends.
func setup(t *testing.T, ttl time.Duration) (s *storage.Store, ctx context.Context, rec *events.Recorder, run func()) {
	t.Helper()
	log := storagetest.Logger(t)
	s = storagetest.NewStore(t, api.Scheme)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	for _, ns := range []string{"default", "team", "leaving"} {
		obj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}
		if err := api.Namespaces.BeforeCreate(obj); err != nil {
			t.Fatal(err)
		}
		if ns == "leaving" {
			obj.Status.Phase = corev1.NamespaceTerminating
		}
		if err := s.Create(ctx, api.Namespaces.Storage, obj); err != nil {
			t.Fatal(err)
		}
	}
	rec = events.NewRecorder(s, admissiontest.Follow(t, s), "test-scheduler", ttl, log)
	run = func() {
		rctx, stop := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			rec.Run(rctx)
		}()
		t.Cleanup(func() {
			stop()
			select {
			case <-done:
			case <-time.After(wait):
				t.Errorf("recorder did not stop within %s of its context ending", wait)
			}
		})
	}
	return s, ctx, rec, run
}

// listEvents returns the stored events.
func listEvents(t *testing.T, ctx context.Context, s *storage.Store) []*corev1.Event {
	t.Helper()
	res, err := s.List(ctx, api.Events.Storage, storage.ListOptions{})
	if err != nil {
		t.Fatalf("list events: %v", err)
	}
	out := make([]*corev1.Event, 0, len(res.Items))
	for _, o := range res.Items {
		out = append(out, o.(*corev1.Event))
	}
	return out
}

// awaitEvents waits until n events are stored, and returns them.
func awaitEvents(t *testing.T, ctx context.Context, s *storage.Store, n int) []*corev1.Event {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		evs := listEvents(t, ctx, s)
		if len(evs) >= n || time.Now().After(deadline) {
			if len(evs) != n {
				t.Fatalf("%d events stored, want %d", len(evs), n)
			}
			return evs
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func testPod(ns, name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + name), ResourceVersion: "42"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
}

// TestRecorderWritesEvents: events recorded about a pod and about a node
// are stored as a user would see them with `kubectl get events`: in the
// pod's namespace and, for the cluster-scoped node, in default; naming the
// object, reason, message, type and source, with a count of 1.
func TestRecorderWritesEvents(t *testing.T) {
	s, ctx, rec, run := setup(t, 0)
	pod := testPod("team", "web-0")
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1", UID: "node-uid", ResourceVersion: "7"}}

	rec.Record(api.Pods, pod, corev1.EventTypeNormal, "Scheduled", "Successfully assigned team/web-0 to node-1")
	rec.Record(api.Nodes, node, corev1.EventTypeWarning, "NodeNotReady", "Node node-1 status is now: NodeNotReady")
	before := time.Now().Add(-time.Second)
	run()

	evs := awaitEvents(t, ctx, s, 2)
	byReason := map[string]*corev1.Event{}
	for _, ev := range evs {
		byReason[ev.Reason] = ev
	}

	type want struct {
		namespace, kind, apiVersion, objNamespace, objName, uid, objRV, typ, message string
	}
	for reason, w := range map[string]want{
		"Scheduled": {"team", "Pod", "v1", "team", "web-0", string(pod.UID), "42",
			corev1.EventTypeNormal, "Successfully assigned team/web-0 to node-1"},
		"NodeNotReady": {"default", "Node", "v1", "", "node-1", "node-uid", "7",
			corev1.EventTypeWarning, "Node node-1 status is now: NodeNotReady"},
	} {
		ev := byReason[reason]
		if ev == nil {
			t.Errorf("no %s event stored (stored: %v)", reason, evs)
			continue
		}
		if ev.Namespace != w.namespace {
			t.Errorf("%s event stored in namespace %q, want %q", reason, ev.Namespace, w.namespace)
		}
		io := ev.InvolvedObject
		if io.Kind != w.kind || io.APIVersion != w.apiVersion || io.Namespace != w.objNamespace ||
			io.Name != w.objName || string(io.UID) != w.uid || io.ResourceVersion != w.objRV {
			t.Errorf("%s event involves %+v, want %s %s %s/%s uid %s rv %s",
				reason, io, w.apiVersion, w.kind, w.objNamespace, w.objName, w.uid, w.objRV)
		}
		if ev.Type != w.typ || ev.Message != w.message {
			t.Errorf("%s event: type %q message %q, want %q %q", reason, ev.Type, ev.Message, w.typ, w.message)
		}
		if ev.Source.Component != "test-scheduler" || ev.ReportingController != "test-scheduler" {
			t.Errorf("%s event: source %q reporting controller %q, want test-scheduler", reason, ev.Source.Component, ev.ReportingController)
		}
		if ev.Count != 1 {
			t.Errorf("%s event: count %d, want 1", reason, ev.Count)
		}
		if ev.FirstTimestamp.Time.Before(before) || ev.LastTimestamp.Time.Before(before) {
			t.Errorf("%s event: timestamps %v / %v, want about now", reason, ev.FirstTimestamp, ev.LastTimestamp)
		}
		if ev.UID == "" || ev.ResourceVersion == "" || ev.CreationTimestamp.IsZero() {
			t.Errorf("%s event: uid %q resourceVersion %q created %v, want all set as on any created object",
				reason, ev.UID, ev.ResourceVersion, ev.CreationTimestamp)
		}
		if !strings.HasPrefix(ev.Name, w.objName+".") {
			t.Errorf("%s event named %q, want %s.<suffix>", reason, ev.Name, w.objName)
		}
	}
	// `kubectl describe node node-1` finds the node's event by field
	// selector.
	res, err := s.List(ctx, api.Events.Storage, storage.ListOptions{Predicate: storage.Predicate{Field: fields.SelectorFromSet(fields.Set{
		"involvedObject.kind": "Node", "involvedObject.name": "node-1", "involvedObject.uid": "node-uid",
	})}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) != 1 || res.Items[0].(*corev1.Event).Reason != "NodeNotReady" {
		t.Fatalf("field selector for node-1 finds %d events, want its one", len(res.Items))
	}
}

// TestRecorderWritesBurst: a burst of 250 events, more than one batch
// holds, all arrive, written in a few transactions of at most 100 events
// (etcd refuses transactions of over 128 operations) rather than one per
// event.
// Events pass admission as every write does: one about an object in a
// namespace being deleted is refused and dropped, the others of its batch
// are written.
func TestRecorderDropsEventsInTerminatingNamespaces(t *testing.T) {
	s, ctx, rec, run := setup(t, 0)
	run()
	rec.Record(api.Pods, testPod("leaving", "web-0"), corev1.EventTypeNormal, "Killing", "stopping")
	rec.Record(api.Pods, testPod("team", "web-1"), corev1.EventTypeNormal, "Started", "started")
	awaitEvents(t, ctx, s, 1)
	time.Sleep(300 * time.Millisecond) // past a batch: nothing more comes
	evs := listEvents(t, ctx, s)
	if len(evs) != 1 || evs[0].Namespace != "team" {
		t.Fatalf("stored %d events %v, want only team's", len(evs), evs)
	}
}

func TestRecorderWritesBurst(t *testing.T) {
	s, ctx, rec, run := setup(t, 0)
	const n = 250
	for i := range n {
		rec.Record(api.Pods, testPod("team", fmt.Sprintf("pod-%03d", i)), corev1.EventTypeNormal, "Scheduled", fmt.Sprintf("event %d", i))
	}
	run()
	evs := awaitEvents(t, ctx, s, n)

	seen := map[string]bool{}
	perRevision := map[string]int{}
	for _, ev := range evs {
		if seen[ev.Message] {
			t.Fatalf("%q stored twice", ev.Message)
		}
		seen[ev.Message] = true
		if want := "pod-" + fmt.Sprintf("%03d", mustAtoi(t, strings.TrimPrefix(ev.Message, "event "))); ev.InvolvedObject.Name != want {
			t.Fatalf("%q is about %s, want %s", ev.Message, ev.InvolvedObject.Name, want)
		}
		perRevision[ev.ResourceVersion]++
	}
	for i := range n {
		if !seen[fmt.Sprintf("event %d", i)] {
			t.Fatalf("event %d missing", i)
		}
	}
	if len(perRevision) < 3 {
		t.Fatalf("%d events written in %d transactions, want at least 3 (batches of at most 100)", n, len(perRevision))
	}
	if len(perRevision) > n/10 {
		t.Fatalf("%d events written in %d transactions, want them batched", n, len(perRevision))
	}
	for rev, count := range perRevision {
		if count > 100 {
			t.Fatalf("%d events written in one transaction (revision %s), want at most 100", count, rev)
		}
	}
}

// TestRecorderWritesSameObjectBurst: many events about one object, recorded
// back to back, all arrive.
func TestRecorderWritesSameObjectBurst(t *testing.T) {
	s, ctx, rec, run := setup(t, 0)
	const n = 150
	pod := testPod("team", "crashy")
	for i := range n {
		rec.Record(api.Pods, pod, corev1.EventTypeWarning, "BackOff", fmt.Sprintf("back-off %d", i))
	}
	run()
	evs := awaitEvents(t, ctx, s, n)
	for _, ev := range evs {
		if ev.InvolvedObject.Name != "crashy" {
			t.Fatalf("event about %s, want crashy", ev.InvolvedObject.Name)
		}
	}
}

// TestRecorderEventsExpire: events vanish after the recorder's TTL, without
// anyone deleting them.
func TestRecorderEventsExpire(t *testing.T) {
	s, ctx, rec, run := setup(t, 2*time.Second)
	run()
	rec.Record(api.Pods, testPod("team", "web-0"), corev1.EventTypeNormal, "Pulled", "pulled")
	awaitEvents(t, ctx, s, 1)
	deadline := time.Now().Add(wait)
	for len(listEvents(t, ctx, s)) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("event still stored %s after being written with a TTL of 2s", wait)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRecorderKeepsRecordingWhileRunning: events recorded while the
// recorder runs, spaced out, each arrive.
func TestRecorderKeepsRecordingWhileRunning(t *testing.T) {
	s, ctx, rec, run := setup(t, 0)
	run()
	for i := range 3 {
		rec.Record(api.Pods, testPod("team", fmt.Sprintf("p%d", i)), corev1.EventTypeNormal, "Started", "started")
		awaitEvents(t, ctx, s, i+1)
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return n
}
