package scheduler

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// fakeClock drives the queue's notion of now.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time       { return c.t }
func (c *fakeClock) step(d time.Duration) { c.t = c.t.Add(d) }
func newTestQueue() (*Queue, *fakeClock) {
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	q := NewQueue()
	q.now = clk.now
	return q, clk
}

func queuePod(name string, priority int32, rv string) *corev1.Pod {
	p := makePod(name)
	p.Namespace = "default"
	p.ResourceVersion = rv
	p.Spec.Priority = ptr.To(priority)
	return p
}

// popNow pops what is ready now, or returns nil.
func popNow(t *testing.T, q *Queue) *queuedPod {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	qp, err := q.Pop(ctx)
	if err != nil {
		return nil
	}
	return qp
}

func popName(t *testing.T, q *Queue) string {
	t.Helper()
	qp := popNow(t, q)
	if qp == nil {
		return ""
	}
	return qp.pi.Pod.Name
}

func TestQueueOrdersByPriorityThenAge(t *testing.T) {
	q, clk := newTestQueue()
	for _, p := range []struct {
		name string
		prio int32
	}{{"low-old", 1}, {"high-old", 100}, {"low-new", 1}, {"high-new", 100}, {"mid", 50}} {
		q.Add(queuePod(p.name, p.prio, "1"))
		clk.step(time.Millisecond)
	}
	var got []string
	for range 5 {
		got = append(got, popName(t, q))
	}
	want := []string{"high-old", "high-new", "mid", "low-old", "low-new"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("pop order %v, want %v", got, want)
		}
	}
	if n := popName(t, q); n != "" {
		t.Fatalf("popped %q from an empty queue", n)
	}
}

func TestQueueParksUnschedulableUntilAClusterChange(t *testing.T) {
	q, clk := newTestQueue()
	q.Add(queuePod("p", 0, "1"))
	qp := popNow(t, q)
	q.Unschedulable(qp)
	if _, _, u, _ := q.Lengths(); u != 1 {
		t.Fatalf("unschedulable pods %d, want 1", u)
	}
	clk.step(time.Minute)
	if n := popName(t, q); n != "" {
		t.Fatalf("parked pod %q popped without a cluster change", n)
	}
	// A node appears: the pod comes back once its backoff (1 s after the
	// first failure, long passed) allows.
	q.MoveAll()
	if n := popName(t, q); n != "p" {
		t.Fatalf("after MoveAll popped %q, want p", n)
	}
}

func TestQueueBacksOffRepeatedFailures(t *testing.T) {
	q, clk := newTestQueue()
	q.Add(queuePod("p", 0, "1"))
	for attempt, wantBackoff := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second} {
		qp := popNow(t, q)
		if qp == nil {
			t.Fatalf("attempt %d: nothing to pop", attempt+1)
		}
		q.Backoff(qp)
		clk.step(wantBackoff - time.Millisecond)
		if n := popName(t, q); n != "" {
			t.Fatalf("attempt %d: popped %q before its %s backoff ended", attempt+1, n, wantBackoff)
		}
		clk.step(time.Millisecond)
	}
	if popNow(t, q) == nil {
		t.Fatal("pod not back after its last backoff")
	}
}

func TestQueueChangeDuringAttemptIsNotLost(t *testing.T) {
	q, clk := newTestQueue()
	q.Add(queuePod("p", 0, "1"))
	qp := popNow(t, q)
	// A node is added while the pod is being decided on: it must not be
	// parked as if nothing had changed.
	q.MoveAll()
	q.Unschedulable(qp)
	clk.step(time.Second)
	if n := popName(t, q); n != "p" {
		t.Fatalf("popped %q, want p retried after its backoff", n)
	}
}

func TestQueueUpdatesWhileInFlight(t *testing.T) {
	q, clk := newTestQueue()
	for _, name := range []string{"lost-race", "stale", "deleted"} {
		q.Add(queuePod(name, 0, "1"))
		clk.step(time.Millisecond)
	}
	a, b, c := popNow(t, q), popNow(t, q), popNow(t, q)
	if a == nil || b == nil || c == nil || a.pi.Pod.Name != "lost-race" || c.pi.Pod.Name != "deleted" {
		t.Fatal("could not pop the three pods in order")
	}

	// The pod changed while its binding was in flight, and the binding lost
	// the race: the new version is decided on, not the one that lost.
	q.Add(queuePod("lost-race", 0, "2"))
	q.Done(a.pi.Key)
	// A binding lost a race without the new version having arrived yet: it
	// is not retried blindly (the informer brings the new version).
	q.Done(b.pi.Key)
	// A pod deleted while in flight is gone.
	q.Add(queuePod("deleted", 0, "2"))
	q.Delete("default", "deleted")
	q.Unschedulable(c)

	qp := popNow(t, q)
	if qp == nil || qp.pi.Pod.Name != "lost-race" || qp.pi.Pod.ResourceVersion != "2" {
		t.Fatalf("popped %+v, want lost-race at resourceVersion 2", qp)
	}
	if n := popName(t, q); n != "" {
		t.Fatalf("popped %q, want nothing else", n)
	}
	if a, b, u, g := q.Lengths(); a+b+u+g != 0 {
		t.Fatalf("queue lengths %d %d %d %d, want empty", a, b, u, g)
	}
}

func TestQueueHoldsGatedPods(t *testing.T) {
	q, _ := newTestQueue()
	p := queuePod("gated", 0, "1")
	p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/wait"}}
	q.Add(p)
	if n := popName(t, q); n != "" {
		t.Fatalf("gated pod %q popped", n)
	}
	if _, _, _, g := q.Lengths(); g != 1 {
		t.Fatalf("gated pods %d, want 1", g)
	}
	open := p.DeepCopy()
	open.Spec.SchedulingGates = nil
	open.ResourceVersion = "2"
	q.Add(open)
	if n := popName(t, q); n != "gated" {
		t.Fatalf("popped %q after the gate was removed, want gated", n)
	}
}

func TestQueueDeleteRemovesQueuedPods(t *testing.T) {
	q, _ := newTestQueue()
	q.Add(queuePod("a", 0, "1"))
	q.Add(queuePod("b", 0, "1"))
	q.Delete("default", "a")
	if n := popName(t, q); n != "b" {
		t.Fatalf("popped %q, want b", n)
	}
	if n := popName(t, q); n != "" {
		t.Fatalf("popped %q after delete", n)
	}
}
