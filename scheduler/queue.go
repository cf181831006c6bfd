package scheduler

import (
	"container/heap"
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Backoff of pods that failed to schedule, and how long an unschedulable
// pod waits for a cluster change before it is tried again anyway:
// Kubernetes' defaults.
const (
	initialBackoff       = time.Second
	maxBackoff           = 10 * time.Second
	maxUnschedulableWait = 5 * time.Minute
)

// queuedPod is a pending pod and its scheduling history.
type queuedPod struct {
	pi          *PodInfo
	attempts    int
	firstQueued time.Time // for the scheduling SLI
	queued      time.Time // orders pods of equal priority
	failedAt    time.Time
	cycle       int64 // the queue's scheduling cycle when popped
	index       int   // in its heap
	heap        *podHeap
}

func (q *queuedPod) priority() int32 {
	if p := q.pi.Pod.Spec.Priority; p != nil {
		return *p
	}
	return 0
}

func (q *queuedPod) backoffUntil() time.Time {
	if q.attempts == 0 {
		return q.failedAt
	}
	d := initialBackoff
	for i := 1; i < q.attempts && d < maxBackoff; i++ {
		d *= 2
	}
	return q.failedAt.Add(min(d, maxBackoff))
}

// inFlight is a popped pod the scheduler is deciding on or binding, and what
// happened to it meanwhile.
type inFlight struct {
	qp      *queuedPod
	latest  *corev1.Pod // a newer version that arrived while in flight
	deleted bool
}

// Queue holds the pods waiting to be scheduled: an active heap (highest
// priority first, then oldest), a backoff heap (by when the backoff ends),
// the unschedulable pods waiting for a cluster change, and the gated pods
// (spec.schedulingGates) waiting for their gates to be removed.
type Queue struct {
	mu            sync.Mutex
	notify        chan struct{}
	active        podHeap
	backoff       podHeap
	unschedulable map[string]*queuedPod
	gated         map[string]*queuedPod
	queued        map[string]*queuedPod // every pod in a heap or map above
	inFlight      map[string]*inFlight
	cycle         int64 // pops so far
	moveCycle     int64 // the cycle of the last cluster change
	lastFlush     time.Time
	now           func() time.Time
}

// NewQueue returns an empty queue.
func NewQueue() *Queue {
	q := &Queue{
		notify:        make(chan struct{}, 1),
		unschedulable: map[string]*queuedPod{},
		gated:         map[string]*queuedPod{},
		queued:        map[string]*queuedPod{},
		inFlight:      map[string]*inFlight{},
		now:           time.Now,
	}
	q.active.less = func(a, b *queuedPod) bool {
		if pa, pb := a.priority(), b.priority(); pa != pb {
			return pa > pb
		}
		return a.queued.Before(b.queued)
	}
	q.backoff.less = func(a, b *queuedPod) bool { return a.backoffUntil().Before(b.backoffUntil()) }
	return q
}

// Add adds a pending pod, or updates the queued copy of it.
func (q *Queue) Add(pod *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.addLocked(pod)
}

func (q *Queue) addLocked(pod *corev1.Pod) {
	key := pod.Namespace + "/" + pod.Name
	if f, ok := q.inFlight[key]; ok {
		f.latest, f.deleted = pod, false
		return
	}
	if qp := q.queued[key]; qp != nil {
		qp.pi = NewPodInfo(pod)
		if h := qp.heap; h != nil {
			heap.Fix(h, qp.index)
		} else if _, gated := q.gated[key]; gated && len(pod.Spec.SchedulingGates) == 0 {
			delete(q.gated, key)
			q.pushLocked(&q.active, qp)
		} else if _, ok := q.unschedulable[key]; ok {
			// The pod itself changed: it may fit now.
			delete(q.unschedulable, key)
			q.pushLocked(&q.backoff, qp)
		}
		q.signal()
		return
	}
	now := q.now()
	qp := &queuedPod{pi: NewPodInfo(pod), firstQueued: now, queued: now}
	if len(pod.Spec.SchedulingGates) > 0 {
		q.gated[key] = qp
		q.queued[key] = qp
		return
	}
	q.pushLocked(&q.active, qp)
	q.signal()
}

// Delete drops a pod that is no longer pending (bound, deleted, or handed
// to another scheduler).
func (q *Queue) Delete(namespace, name string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	key := namespace + "/" + name
	if f, ok := q.inFlight[key]; ok {
		f.deleted = true
		return
	}
	qp := q.queued[key]
	if qp == nil {
		return
	}
	delete(q.queued, key)
	if qp.heap != nil {
		heap.Remove(qp.heap, qp.index)
		qp.heap = nil
	}
	delete(q.unschedulable, key)
	delete(q.gated, key)
}

func (q *Queue) pushLocked(h *podHeap, qp *queuedPod) {
	heap.Push(h, qp)
	qp.heap = h
	q.queued[qp.pi.Key] = qp
}

func (q *Queue) popLocked(h *podHeap) *queuedPod {
	qp := heap.Pop(h).(*queuedPod)
	qp.heap = nil
	delete(q.queued, qp.pi.Key)
	return qp
}

func (q *Queue) signal() {
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// Pop waits for the next pod to schedule and marks it in flight until Done,
// Unschedulable or Backoff.
func (q *Queue) Pop(ctx context.Context) (*queuedPod, error) {
	for {
		q.mu.Lock()
		wait := q.flushLocked()
		if q.active.Len() > 0 {
			qp := q.popLocked(&q.active)
			q.cycle++
			qp.cycle = q.cycle
			qp.attempts++
			q.inFlight[qp.pi.Key] = &inFlight{qp: qp}
			q.mu.Unlock()
			return qp, nil
		}
		q.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-q.notify:
		case <-t.C:
		}
		t.Stop()
	}
}

// flushLocked moves pods whose backoff has ended to the active heap, and
// unschedulable pods that have waited too long to the backoff heap. It
// returns how long until the next backoff ends.
func (q *Queue) flushLocked() time.Duration {
	now := q.now()
	for q.backoff.Len() > 0 {
		qp := q.backoff.items[0]
		if until := qp.backoffUntil(); until.After(now) {
			if q.active.Len() == 0 {
				return until.Sub(now)
			}
			break
		}
		q.pushLocked(&q.active, q.popLocked(&q.backoff))
	}
	if now.Sub(q.lastFlush) >= 30*time.Second {
		q.lastFlush = now
		for key, qp := range q.unschedulable {
			if now.Sub(qp.failedAt) >= maxUnschedulableWait {
				delete(q.unschedulable, key)
				q.pushLocked(&q.backoff, qp)
			}
		}
	}
	return time.Second
}

// Done ends a pod's time in flight after it was bound, or after a binding
// lost a race: then the pod is queued again only if a newer version of it
// arrived meanwhile (the informer will deliver one otherwise, or report it
// bound); it is never retried blindly with the version that lost.
func (q *Queue) Done(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	f, ok := q.inFlight[key]
	if !ok {
		return
	}
	delete(q.inFlight, key)
	if f.latest != nil && !f.deleted && f.latest.ResourceVersion != f.qp.pi.Pod.ResourceVersion {
		f.qp.pi = NewPodInfo(f.latest)
		f.qp.queued = q.now()
		q.pushLocked(&q.active, f.qp)
		q.signal()
	}
}

// Unschedulable returns a pod no node fits. If the cluster or the pod
// changed while it was being decided on, it is retried after its backoff;
// otherwise it waits for a change (MoveAll) or maxUnschedulableWait.
func (q *Queue) Unschedulable(qp *queuedPod) { q.requeue(qp, false) }

// Backoff returns a pod whose attempt failed for another reason (an etcd
// error, say), to be retried after its backoff.
func (q *Queue) Backoff(qp *queuedPod) { q.requeue(qp, true) }

func (q *Queue) requeue(qp *queuedPod, backoff bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	key := qp.pi.Key
	f, ok := q.inFlight[key]
	if !ok || f.qp != qp {
		return
	}
	delete(q.inFlight, key)
	if f.deleted {
		return
	}
	if f.latest != nil {
		qp.pi = NewPodInfo(f.latest)
		backoff = true
	}
	qp.failedAt = q.now()
	if backoff || q.moveCycle >= qp.cycle {
		q.pushLocked(&q.backoff, qp)
		q.signal()
		return
	}
	q.unschedulable[key] = qp
	q.queued[key] = qp
}

// MoveAll is told of a cluster change that may let unschedulable pods fit
// (a node added or changed, a pod removed): they are retried, after their
// backoff.
func (q *Queue) MoveAll() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.moveCycle = q.cycle
	if len(q.unschedulable) == 0 {
		return
	}
	for key, qp := range q.unschedulable {
		delete(q.unschedulable, key)
		q.pushLocked(&q.backoff, qp)
	}
	q.signal()
}

// Lengths reports the pods in each part of the queue, as the
// scheduler_pending_pods metric labels them.
func (q *Queue) Lengths() (active, backoff, unschedulable, gated int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.active.Len(), q.backoff.Len(), len(q.unschedulable), len(q.gated)
}

// podHeap is a heap of queued pods ordered by less.
type podHeap struct {
	items []*queuedPod
	less  func(a, b *queuedPod) bool
}

func (h *podHeap) Len() int           { return len(h.items) }
func (h *podHeap) Less(i, j int) bool { return h.less(h.items[i], h.items[j]) }
func (h *podHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].index, h.items[j].index = i, j
}
func (h *podHeap) Push(x any) {
	qp := x.(*queuedPod)
	qp.index = len(h.items)
	h.items = append(h.items, qp)
}
func (h *podHeap) Pop() any {
	n := len(h.items)
	qp := h.items[n-1]
	h.items[n-1] = nil
	h.items = h.items[:n-1]
	return qp
}

// Refresh replaces the queued copy of a pod whose scheduling-relevant parts
// did not change (a status write, say), without moving it between queues.
func (q *Queue) Refresh(pod *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	key := pod.Namespace + "/" + pod.Name
	if f, ok := q.inFlight[key]; ok {
		f.latest = pod
		return
	}
	if qp := q.queued[key]; qp != nil {
		qp.pi.Pod = pod
		return
	}
	q.addLocked(pod)
}
