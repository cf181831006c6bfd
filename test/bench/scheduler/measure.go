package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/storage"
	"github.com/shepherd-lab/shepherd/test/bench/internal/benchutil"
)

// tracker follows the pods through a watch opened before the measured
// creates: when each measured pod's binding is first seen, on which node,
// and any pod whose node changes once set.
type tracker struct {
	n       int
	boundAt []time.Time // by measured pod index
	node    []string
	bound   atomic.Int64
	// nodes and placed say where the placed pods were bound, so a move of
	// one is caught too.
	nodes, placed int

	mu         sync.Mutex // guards violations and err, read while running
	violations []string
	err        error
	done       chan struct{}
}

func newTracker(cfg config) *tracker {
	n := cfg.Pods
	return &tracker{
		n: n, boundAt: make([]time.Time, n), node: make([]string, n),
		nodes: cfg.Nodes, placed: cfg.Placed, done: make(chan struct{}),
	}
}

// placedOn returns the node a placed pod was bound to, from its name.
func (t *tracker) placedOn(name string) (string, bool) {
	s, ok := strings.CutPrefix(name, placedPrefix)
	if !ok {
		return "", false
	}
	i, err := strconv.Atoi(s)
	if err != nil || i < 0 || i >= t.placed {
		return "", false
	}
	return nodeName(i % t.nodes), true
}

// pendingIndex returns the index of a measured pod from its name, or -1.
func pendingIndex(name string, n int) int {
	s, ok := strings.CutPrefix(name, pendingPrefix)
	if !ok {
		return -1
	}
	i, err := strconv.Atoi(s)
	if err != nil || i < 0 || i >= n {
		return -1
	}
	return i
}

func (t *tracker) violate(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.violations) < 1000 {
		t.violations = append(t.violations, fmt.Sprintf(format, args...))
	}
}

func (t *tracker) run(w *storage.Watcher) {
	defer close(t.done)
	for ev := range w.ResultChan() {
		now := time.Now()
		if ev.Type == watch.Error {
			err := errors.New("watch error")
			if st, ok := ev.Object.(*metav1.Status); ok {
				err = apierrors.FromObject(st)
			}
			t.mu.Lock()
			t.err = err
			t.mu.Unlock()
			return
		}
		pod, ok := ev.Object.(*corev1.Pod)
		if !ok {
			continue
		}
		if ev.Type == watch.Deleted {
			t.violate("pod %s/%s was deleted", pod.Namespace, pod.Name)
			continue
		}
		i := pendingIndex(pod.Name, t.n)
		if i < 0 {
			// A placed pod must stay where it was put; no other pod
			// should appear.
			if want, ok := t.placedOn(pod.Name); !ok || pod.Spec.NodeName != want {
				t.violate("pod %s/%s (not a measured pod): %s event, node %q", pod.Namespace, pod.Name, ev.Type, pod.Spec.NodeName)
			}
			continue
		}
		switch {
		case pod.Spec.NodeName == "":
			if t.node[i] != "" {
				t.violate("pod %s: bound to %s, then unbound", pod.Name, t.node[i])
			}
		case t.node[i] == "":
			t.node[i], t.boundAt[i] = pod.Spec.NodeName, now
			t.bound.Add(1)
		case t.node[i] != pod.Spec.NodeName:
			t.violate("pod %s: bound to %s, then to %s", pod.Name, t.node[i], pod.Spec.NodeName)
		}
	}
	t.mu.Lock()
	t.err = errors.New("watch closed")
	t.mu.Unlock()
}

func (t *tracker) failed() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// measure opens a watch on the pods, creates the measured pods and waits
// until the scheduler has bound every one of them (or stops binding).
func (b *bench) measure(ctx context.Context, res *results) error {
	n := b.cfg.Pods
	rev, err := b.store.CurrentRevision(ctx)
	if err != nil {
		return err
	}
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	w, err := b.store.Watch(wctx, api.Pods.Storage, storage.WatchOptions{Revision: rev})
	if err != nil {
		return err
	}
	t := newTracker(b.cfg)
	go t.run(w)
	defer func() { w.Stop(); <-t.done }()

	pid := b.sched.cmd.Process.Pid
	schedCPU0, cpuErr := procCPU(pid)
	selfCPU0 := benchutil.SelfCPU()

	ackAt := make([]time.Time, n)
	var lastAck time.Time
	var ackMu sync.Mutex
	createErr := make(chan error, 1)
	begin := time.Now()
	go func() {
		createErr <- createAll(ctx, b.store, api.Pods, n, b.cfg.Batch, b.cfg.Creators,
			func(i int) runtime.Object { return newPod(fmt.Sprintf("%s%06d", pendingPrefix, i), "") },
			func(first, count int, at time.Time) {
				for i := first; i < first+count; i++ {
					ackAt[i] = at
				}
				ackMu.Lock()
				if at.After(lastAck) {
					lastAck = at
				}
				ackMu.Unlock()
			})
	}()

	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	created := false
	lastCount, lastProgress := int64(0), begin
	for {
		if c := t.bound.Load(); c != lastCount {
			lastCount, lastProgress = c, time.Now()
		}
		if lastCount == int64(n) && created {
			break
		}
		if time.Since(lastProgress) > b.cfg.StallTimeout {
			res.Stalled = true
			break
		}
		if err := t.failed(); err != nil {
			return fmt.Errorf("pod watch: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-createErr:
			if err != nil {
				return err
			}
			created = true
			res.Create.Took = lastAck.Sub(begin)
		case <-b.sched.exited:
			return fmt.Errorf("the scheduler exited during the run (%v); its log:\n%s", b.sched.waitErr, b.sched.logTail())
		case <-tick.C:
		}
	}
	// The work is done (or stalled): the CPU it took, before anything else.
	if cpu, err := procCPU(pid); err == nil && cpuErr == nil {
		res.Sched.CPUMeasured = cpu - schedCPU0
	}
	res.SelfCPU = benchutil.SelfCPU() - selfCPU0
	if !created {
		if err := <-createErr; err != nil {
			return err
		}
		res.Create.Took = lastAck.Sub(begin)
	}
	if body, err := b.sched.get(ctx, "/metrics"); err == nil {
		res.Sched.Metrics = metricsText(body)
	} else {
		return fmt.Errorf("scrape the scheduler's metrics: %w", err)
	}
	w.Stop()
	<-t.done

	res.Create.Pods = n
	res.Bound = int(t.bound.Load())
	var first, last time.Time
	for i := range n {
		if t.boundAt[i].IsZero() {
			continue
		}
		if first.IsZero() || t.boundAt[i].Before(first) {
			first = t.boundAt[i]
		}
		if t.boundAt[i].After(last) {
			last = t.boundAt[i]
		}
		d := t.boundAt[i].Sub(ackAt[i])
		if d < 0 {
			// Seen bound before its create call returned: the ack came back
			// late. Count it, as no time.
			res.EarlyBinds++
			d = 0
		}
		res.Latency = append(res.Latency, d)
	}
	if res.Bound > 0 {
		res.FirstBound, res.Span = first.Sub(begin), last.Sub(begin)
	}
	res.nodeOf = t.node
	res.Violations = append(res.Violations, t.violations...)
	return nil
}

// check lists every pod at the end: each measured pod must be where the
// watch saw it bound, and no node may hold more than it has.
func (b *bench) check(ctx context.Context, res *results) error {
	list, err := b.store.List(ctx, api.Pods.Storage, storage.ListOptions{})
	if err != nil {
		return fmt.Errorf("final list of pods: %w", err)
	}
	type usage struct{ pods, milliCPU, memory int64 }
	perNode := map[string]*usage{}
	nodes := map[string]bool{}
	for i := range b.cfg.Nodes {
		nodes[nodeName(i)] = true
	}
	for _, obj := range list.Items {
		pod := obj.(*corev1.Pod)
		res.Final.Pods++
		if i := pendingIndex(pod.Name, b.cfg.Pods); i >= 0 && pod.Spec.NodeName != res.nodeOf[i] {
			res.Violations = append(res.Violations, fmt.Sprintf("pod %s: the watch saw it bound to %q, storage has %q", pod.Name, res.nodeOf[i], pod.Spec.NodeName))
		}
		if pod.Spec.NodeName == "" {
			res.Final.Unbound++
			continue
		}
		if !nodes[pod.Spec.NodeName] {
			res.Violations = append(res.Violations, fmt.Sprintf("pod %s: bound to %q, which is no node", pod.Name, pod.Spec.NodeName))
		}
		u := perNode[pod.Spec.NodeName]
		if u == nil {
			u = &usage{}
			perNode[pod.Spec.NodeName] = u
		}
		u.pods++
		for _, c := range pod.Spec.Containers {
			u.milliCPU += c.Resources.Requests.Cpu().MilliValue()
			u.memory += c.Resources.Requests.Memory().Value()
		}
	}
	alloc := newNode("").Status.Allocatable
	maxCPU, maxMem := alloc.Cpu().MilliValue(), alloc.Memory().Value()
	for name, u := range perNode {
		res.Final.NodesUsed++
		res.Final.MaxPods = max(res.Final.MaxPods, u.pods)
		res.Final.MaxMilliCPU = max(res.Final.MaxMilliCPU, u.milliCPU)
		res.Final.MaxMemory = max(res.Final.MaxMemory, u.memory)
		if u.pods > nodePods || u.milliCPU > maxCPU || u.memory > maxMem {
			res.Final.OverCapacity++
			res.Violations = append(res.Violations, fmt.Sprintf("node %s over capacity: %d pods, %dm CPU, %d bytes of memory requested",
				name, u.pods, u.milliCPU, u.memory))
		}
	}
	// Events are written by the scheduler in batches: count them through a
	// one-item page's remaining count.
	ev, err := b.store.List(ctx, api.Events.Storage, storage.ListOptions{Limit: 1})
	if err == nil {
		res.Final.Events = int64(len(ev.Items))
		if ev.RemainingItemCount != nil {
			res.Final.Events += *ev.RemainingItemCount
		}
	}
	return nil
}
