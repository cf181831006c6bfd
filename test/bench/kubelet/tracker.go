package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// podTrack is what is known of one benchmark pod.
type podTrack struct {
	Sent, Acked time.Time // the create request was sent, and answered
	// Running is when the first watch event with phase Running and every
	// container running arrived.
	Running time.Time
	Deleted time.Time // the watch's Deleted event
	Events  int       // watch events seen for it
	// IDs are its containers' IDs when first seen Running; Replaced
	// counts later events showing other IDs, or a container not running,
	// while the pod was not being deleted.
	IDs      string
	Replaced int
	// Phase and Waiting are its last status: the phase, and the waiting
	// reason of a container not running ("" when none).
	Phase   corev1.PodPhase
	Waiting string
}

// tracker follows the benchmark's pods through a watch on the apiserver,
// opened before any pod is created and reopened from the last
// resourceVersion seen when the server ends it.
type tracker struct {
	c *cluster

	mu     sync.Mutex
	pods   map[string]*podTrack
	events int // every event, of every benchmark pod
	reopen int // times the watch was opened again
	err    error

	cancel context.CancelFunc
	done   chan struct{}
}

// startTracker lists the benchmark's pods (there are none yet) for a
// resourceVersion and starts watching from it.
func startTracker(ctx context.Context, c *cluster) (*tracker, error) {
	list, err := c.client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: benchLabel + "=" + benchValue})
	if err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	wctx, cancel := context.WithCancel(ctx)
	t := &tracker{c: c, pods: map[string]*podTrack{}, cancel: cancel, done: make(chan struct{})}
	go t.run(wctx, list.ResourceVersion)
	return t, nil
}

// stop ends the watch and waits for it. It may be called more than once.
func (t *tracker) stop() {
	t.cancel()
	<-t.done
}

func (t *tracker) run(ctx context.Context, rv string) {
	defer close(t.done)
	pods := t.c.client.CoreV1().Pods(namespace)
	failures := 0
	for ctx.Err() == nil {
		w, err := pods.Watch(ctx, metav1.ListOptions{LabelSelector: benchLabel + "=" + benchValue, ResourceVersion: rv})
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if failures++; failures > 50 {
				t.fail(fmt.Errorf("watch pods: %w", err))
				return
			}
			sleepCtx(ctx, 200*time.Millisecond)
			continue
		}
		failures = 0
		for ev := range w.ResultChan() {
			now := time.Now()
			if ev.Type == watch.Error {
				err := errors.New("watch error")
				if st, ok := ev.Object.(*metav1.Status); ok {
					err = apierrors.FromObject(st)
				}
				t.fail(fmt.Errorf("pod watch: %w", err))
				w.Stop()
				return
			}
			pod, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			rv = pod.ResourceVersion
			t.observe(ev.Type, pod, now)
		}
		w.Stop()
		if ctx.Err() == nil {
			t.mu.Lock()
			t.reopen++
			t.mu.Unlock()
		}
	}
}

func (t *tracker) fail(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err == nil {
		t.err = err
	}
}

// failed is the watch's error, once it has given up.
func (t *tracker) failed() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

func (t *tracker) observe(typ watch.EventType, pod *corev1.Pod, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.events++
	p := t.track(pod.Name)
	p.Events++
	if typ == watch.Deleted {
		if p.Deleted.IsZero() {
			p.Deleted = at
		}
		return
	}
	p.Phase, p.Waiting = pod.Status.Phase, waitingReason(pod)
	switch {
	case p.Running.IsZero():
		if allRunning(pod) {
			p.Running, p.IDs = at, containerIDs(pod)
		}
	case pod.DeletionTimestamp == nil && (!allRunning(pod) || containerIDs(pod) != p.IDs):
		p.Replaced++
	}
}

func containerIDs(pod *corev1.Pod) string {
	var ids []string
	for _, cs := range pod.Status.ContainerStatuses {
		ids = append(ids, cs.ContainerID)
	}
	return strings.Join(ids, ",")
}

// track returns name's entry, making it. t.mu is held.
func (t *tracker) track(name string) *podTrack {
	p := t.pods[name]
	if p == nil {
		p = &podTrack{}
		t.pods[name] = p
	}
	return p
}

// created records when a pod's create was sent and acknowledged.
func (t *tracker) created(name string, sent, acked time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.track(name)
	p.Sent, p.Acked = sent, acked
}

// allRunning says whether the pod is Running with every container running.
func allRunning(pod *corev1.Pod) bool {
	if pod.Status.Phase != corev1.PodRunning || len(pod.Status.ContainerStatuses) != len(pod.Spec.Containers) {
		return false
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.State.Running == nil {
			return false
		}
	}
	return true
}

func waitingReason(pod *corev1.Pod) string {
	for _, cs := range pod.Status.ContainerStatuses {
		switch {
		case cs.State.Waiting != nil:
			return cs.Name + ": waiting: " + cs.State.Waiting.Reason
		case cs.State.Terminated != nil:
			return fmt.Sprintf("%s: terminated: %s (exit %d)", cs.Name, cs.State.Terminated.Reason, cs.State.Terminated.ExitCode)
		}
	}
	return ""
}

// snapshot copies the named pods' entries (zero for a pod never seen).
func (t *tracker) snapshot(names []string) []podTrack {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]podTrack, len(names))
	for i, n := range names {
		if p := t.pods[n]; p != nil {
			out[i] = *p
		}
	}
	return out
}

// eventCount is how many events the watch has delivered so far.
func (t *tracker) eventCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.events
}

func (t *tracker) reopened() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.reopen
}

// errStalled is returned by waitFor when nothing progressed for the stall
// timeout.
var errStalled = errors.New("no progress")

// waitFor waits until none of names is left by pending, which says whether
// a pod's entry is still waited for. It returns errStalled when the count
// left has not dropped for stall, and an error when the watch failed or
// the kubelet exited.
func (t *tracker) waitFor(ctx context.Context, names []string, stall time.Duration, pending func(p *podTrack) bool) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	last, lastProgress := -1, time.Now()
	for {
		left := 0
		t.mu.Lock()
		for _, n := range names {
			p := t.pods[n]
			if p == nil || pending(p) {
				left++
			}
		}
		t.mu.Unlock()
		if left == 0 {
			return nil
		}
		if left != last {
			last, lastProgress = left, time.Now()
		}
		if time.Since(lastProgress) > stall {
			return fmt.Errorf("%d of %d pods: %w for %v", left, len(names), errStalled, stall)
		}
		if err := t.failed(); err != nil {
			return err
		}
		if err := t.c.kubelet.AliveErr(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// running is how many benchmark pods are Running and not deleted.
func (t *tracker) running() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, p := range t.pods {
		if !p.Running.IsZero() && p.Deleted.IsZero() {
			n++
		}
	}
	return n
}

// replaced is how many times a Running pod was seen with its containers
// replaced or not running, while not being deleted.
func (t *tracker) replaced() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, p := range t.pods {
		n += p.Replaced
	}
	return n
}
