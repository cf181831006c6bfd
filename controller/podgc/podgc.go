// Package podgc is Kubernetes' pod garbage collector: it deletes
// terminated pods beyond a threshold (oldest first), pods bound to nodes
// that no longer exist, terminating pods that were never scheduled, and
// terminating pods on nodes that are out of service.
package podgc

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/controller"
	"github.com/shepherd-lab/shepherd/storage"
)

// Name is the controller's name.
const Name = "podgc"

// Options tune the collector; zero fields take Kubernetes' defaults.
type Options struct {
	// TerminatedPodThreshold is how many terminated (Succeeded or Failed)
	// pods are kept (--terminated-pod-gc-threshold, 12500); negative
	// keeps them all.
	TerminatedPodThreshold int
	// Period is how often the collector runs (20s).
	Period time.Duration
	// Quarantine is how long a pod's node must be seen missing before the
	// pod is deleted (40s), to ride out a node being re-created.
	Quarantine time.Duration
}

// Controller is the pod garbage collector.
type Controller struct {
	c     *controller.Context
	opts  Options
	log   *slog.Logger
	pods  *controller.Shared
	nodes *controller.Shared
	queue *controller.Queue
	now   func() time.Time

	mu sync.Mutex
	// missing is when each node name pods are bound to was first seen
	// without a Node.
	missing map[string]time.Time
}

// gcKey is the queue's only key: a pass over every pod.
const gcKey = "gc"

// New builds the collector.
func New(c *controller.Context, opts Options) *Controller {
	if opts.TerminatedPodThreshold == 0 {
		opts.TerminatedPodThreshold = 12500
	}
	if opts.Period <= 0 {
		opts.Period = 20 * time.Second
	}
	if opts.Quarantine <= 0 {
		opts.Quarantine = 40 * time.Second
	}
	log := c.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Controller{
		c: c, opts: opts, log: log.With("controller", Name),
		pods: c.Informers.For(api.Pods), nodes: c.Informers.For(api.Nodes),
		queue: c.NewQueue(Name), now: time.Now, missing: map[string]time.Time{},
	}
}

// Name is "podgc".
func (ctl *Controller) Name() string { return Name }

// Run collects every Period until ctx ends. One pass runs at a time
// whatever workers is.
func (ctl *Controller) Run(ctx context.Context, workers int) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(ctl.opts.Period)
		defer t.Stop()
		ctl.queue.Add(gcKey)
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				ctl.queue.Add(gcKey)
			}
		}
	}()
	controller.Work(ctx, ctl.queue, 1, func(ctx context.Context, _ string) error { return ctl.gc(ctx) }, ctl.log)
	wg.Wait()
}

// gc is one pass.
func (ctl *Controller) gc(ctx context.Context) error {
	var pods []*corev1.Pod
	for _, obj := range ctl.pods.List() {
		pods = append(pods, obj.(*corev1.Pod))
	}
	nodes := map[string]*corev1.Node{}
	for _, obj := range ctl.nodes.List() {
		n := obj.(*corev1.Node)
		nodes[n.Name] = n
	}
	var errs []error
	if ctl.opts.TerminatedPodThreshold > 0 {
		for _, p := range overThreshold(pods, ctl.opts.TerminatedPodThreshold) {
			errs = append(errs, ctl.forceDelete(ctx, p, "terminated pods over the threshold"))
		}
	}
	for _, p := range ctl.orphans(ctx, pods, nodes) {
		errs = append(errs, ctl.forceDelete(ctx, p, "node no longer exists"))
	}
	for _, p := range terminatingStranded(pods, nodes) {
		errs = append(errs, ctl.forceDelete(ctx, p, "terminating, unscheduled or on a node out of service"))
	}
	return errors.Join(errs...)
}

func terminated(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// overThreshold are the terminated pods to delete so that threshold
// remain: the oldest by creation, as Kubernetes (evicted pods first).
func overThreshold(pods []*corev1.Pod, threshold int) []*corev1.Pod {
	var done []*corev1.Pod
	for _, p := range pods {
		if terminated(p) {
			done = append(done, p)
		}
	}
	n := len(done) - threshold
	if n <= 0 {
		return nil
	}
	sortOldestFirst(done)
	return done[:n]
}

func sortOldestFirst(pods []*corev1.Pod) {
	evicted := func(p *corev1.Pod) bool { return p.Status.Reason == "Evicted" }
	less := func(a, b *corev1.Pod) bool {
		if evicted(a) != evicted(b) {
			return evicted(a)
		}
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
	}
	// Insertion sort keeps this free of a sort.Interface type; the slices
	// are at most the terminated pods of a lab cluster.
	for i := 1; i < len(pods); i++ {
		for j := i; j > 0 && less(pods[j], pods[j-1]); j-- {
			pods[j], pods[j-1] = pods[j-1], pods[j]
		}
	}
}

// orphans are the pods bound to a node that has been missing for the
// quarantine period and that a live read confirms gone.
func (ctl *Controller) orphans(ctx context.Context, pods []*corev1.Pod, nodes map[string]*corev1.Node) []*corev1.Pod {
	now := ctl.now()
	byNode := map[string][]*corev1.Pod{}
	for _, p := range pods {
		if p.Spec.NodeName != "" && nodes[p.Spec.NodeName] == nil {
			byNode[p.Spec.NodeName] = append(byNode[p.Spec.NodeName], p)
		}
	}
	ctl.mu.Lock()
	for name := range ctl.missing {
		if byNode[name] == nil {
			delete(ctl.missing, name) // back, or no pods left on it
		}
	}
	var due []string
	for name := range byNode {
		first, ok := ctl.missing[name]
		if !ok {
			ctl.missing[name] = now
			ctl.queue.AddAfter(gcKey, ctl.opts.Quarantine)
			continue
		}
		if now.Sub(first) >= ctl.opts.Quarantine {
			due = append(due, name)
		}
	}
	ctl.mu.Unlock()
	var out []*corev1.Pod
	for _, name := range due {
		_, err := ctl.c.Store.Get(ctx, api.Nodes.Storage, "", name)
		if !errors.Is(err, storage.ErrNotFound) {
			continue // it exists after all (the informer lags), or etcd failed: next pass
		}
		out = append(out, byNode[name]...)
	}
	return out
}

// terminatingStranded are terminating pods no kubelet will finish: never
// scheduled, or on a node that is not Ready and carries the
// node.kubernetes.io/out-of-service taint (Kubernetes' non-graceful node
// shutdown).
func terminatingStranded(pods []*corev1.Pod, nodes map[string]*corev1.Node) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		if p.DeletionTimestamp == nil {
			continue
		}
		if p.Spec.NodeName == "" {
			out = append(out, p)
			continue
		}
		n := nodes[p.Spec.NodeName]
		if n != nil && !nodeReady(n) && outOfService(n) {
			out = append(out, p)
		}
	}
	return out
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func outOfService(n *corev1.Node) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == corev1.TaintNodeOutOfService && t.Effect == corev1.TaintEffectNoExecute {
			return true
		}
	}
	return false
}

// forceDelete removes a pod from storage at once (grace period 0), as
// Kubernetes' pod GC does; a pod that is not terminal is first marked
// Failed with the DisruptionTarget condition Kubernetes sets.
func (ctl *Controller) forceDelete(ctx context.Context, pod *corev1.Pod, why string) error {
	pods := storage.NewTyped[*corev1.Pod](ctl.c.Store, api.Pods.Storage)
	uid := pod.UID
	if !terminated(pod) {
		_, err := pods.GuaranteedUpdate(ctx, pod.Namespace, pod.Name, func(cur *corev1.Pod) (*corev1.Pod, error) {
			if cur.UID != uid {
				return nil, storage.ErrNotFound
			}
			next := cur.DeepCopy()
			if !terminated(next) {
				next.Status.Phase = corev1.PodFailed
			}
			setCondition(&next.Status, corev1.PodCondition{
				Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: "DeletionByPodGC",
				Message: "PodGC: " + why, LastTransitionTime: metav1.NewTime(ctl.now()),
			})
			if err := ctl.c.Admission.UpdateStatus(ctx, api.Pods, next, cur); err != nil {
				return nil, err
			}
			return next, nil
		}, ctl.c.Fence...)
		if errors.Is(err, storage.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	err := ctl.c.Admission.Delete(ctx, api.Pods, pod.Namespace, pod.Name, pod)
	if err == nil {
		_, err = pods.Delete(ctx, pod.Namespace, pod.Name, &storage.Preconditions{UID: &uid}, ctl.c.Fence...)
	}
	if errors.Is(err, storage.ErrNotFound) || storage.IsConflict(err) {
		return nil // gone, or replaced by a new pod of that name
	}
	if err != nil {
		return err
	}
	ctl.log.Info("deleted pod", "pod", pod.Namespace+"/"+pod.Name, "node", pod.Spec.NodeName, "why", why)
	return nil
}

func setCondition(st *corev1.PodStatus, cond corev1.PodCondition) {
	for i, c := range st.Conditions {
		if c.Type == cond.Type {
			if c.Status == cond.Status {
				cond.LastTransitionTime = c.LastTransitionTime
			}
			st.Conditions[i] = cond
			return
		}
	}
	st.Conditions = append(st.Conditions, cond)
}
