package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// podState is what the watch has shown of one of the Deployment's pods.
type podState struct {
	UID types.UID
	// New says the pod has the rolled-out template (the env var the
	// rolling update adds), whatever its pod-template-hash says.
	New                                bool
	Bound, Running, Ready, Terminating bool
	// FirstSeen, BoundAt and RunningAt are when the watch first showed the
	// pod, bound to a node, and Running with every container running;
	// GoneAt when it showed the pod deleted from etcd.
	FirstSeen, BoundAt, RunningAt, GoneAt time.Time
}

// counts are the Deployment's pods in etcd at one revision, as the watch
// has delivered them in order. Pods counts those being deleted
// (deletionTimestamp set) too; Live leaves them out, as the ReplicaSet and
// Deployment controllers do. Available pods are live and Ready (the
// Deployment has minReadySeconds 0).
type counts struct {
	Pods, Live, Old, New    int // Old and New: by template, being deleted or not
	Bound, Running          int // live ones
	Available, NewAvailable int
	NewRunning, NewLive     int
}

func (c *counts) add(p *podState, sign int) {
	c.Pods += sign
	if p.New {
		c.New += sign
	} else {
		c.Old += sign
	}
	if p.Terminating {
		return
	}
	c.Live += sign
	if p.New {
		c.NewLive += sign
	}
	if p.Bound {
		c.Bound += sign
	}
	if p.Running {
		c.Running += sign
		if p.New {
			c.NewRunning += sign
		}
	}
	if p.Ready {
		c.Available += sign
		if p.New {
			c.NewAvailable += sign
		}
	}
}

func (c counts) String() string {
	return fmt.Sprintf("%d pods in etcd (%d old template, %d new), %d not being deleted, %d of those available (%d new)",
		c.Pods, c.Old, c.New, c.Live, c.Available, c.NewAvailable)
}

// rsState is what the watch has shown of one of the namespace's
// ReplicaSets.
type rsState struct {
	New                            bool // has the rolled-out template
	Spec, Replicas, Available      int32
	ObservedGeneration, Generation int64
}

// extreme is the evidence of a window's high or low point: when it was
// reached, the pod counts then, the pod's resourceVersion (etcd revision)
// whose event made it, and the ReplicaSets as their own watch had last
// shown them (a separate stream: only roughly the same moment).
type extreme struct {
	After       time.Duration // from the window's start
	Counts      counts
	Revision    string
	ReplicaSets string
}

// window follows the pod counts between two moments: a phase.
type window struct {
	start time.Time
	// MaxLive and MaxPods are the most pods not being deleted, and in
	// etcd at all, at any revision; MinAvailable the fewest available.
	MaxLive, MaxPods, MinAvailable        int
	MaxLiveAt, MaxPodsAt, MinAvailableAt  extreme
	Created, Deleted                      int // pods first seen, and seen gone, in the window
	PodEvents, DeploymentEvents, RSEvents int
}

// goal is a condition on what the watches have shown, and when it first
// held.
type goal struct {
	name string
	cond func(t *tracker) bool
	at   time.Time // zero until met
}

// tracker follows the benchmark's Deployment, its ReplicaSets and its pods
// through three watches on the apiserver, opened before the Deployment is
// created and reopened from the last resourceVersion seen when the server
// ends one. Every pod event updates the counts, the current window's
// extremes, and the goals.
type tracker struct {
	client    kubernetes.Interface
	namespace string
	depName   string
	selector  string // the pods' label selector

	mu        sync.Mutex
	pods      map[string]*podState
	cur       counts
	dep       *appsv1.Deployment // last seen; nil before the create and after the delete
	depGone   bool
	rs        map[string]*rsState
	win       *window
	goals     []*goal
	lastEvent time.Time
	reopened  int
	err       error

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startTracker lists the namespace's pods, Deployments and ReplicaSets
// (there are none of the benchmark's yet) and watches each from its list's
// resourceVersion.
func startTracker(ctx context.Context, client kubernetes.Interface, namespace, depName, selector string) (*tracker, error) {
	t := &tracker{
		client: client, namespace: namespace, depName: depName, selector: selector,
		pods: map[string]*podState{}, rs: map[string]*rsState{}, lastEvent: time.Now(),
	}
	pods := client.CoreV1().Pods(namespace)
	deps := client.AppsV1().Deployments(namespace)
	rss := client.AppsV1().ReplicaSets(namespace)
	podList, err := pods.List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	if len(podList.Items) > 0 {
		return nil, fmt.Errorf("%d pods matching %s exist before the run", len(podList.Items), selector)
	}
	depList, err := deps.List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list deployments: %w", err)
	}
	rsList, err := rss.List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list replicasets: %w", err)
	}
	wctx, cancel := context.WithCancel(ctx)
	t.cancel = cancel
	t.follow(wctx, "pods", podList.ResourceVersion, func(ctx context.Context, rv string) (watch.Interface, error) {
		return pods.Watch(ctx, metav1.ListOptions{LabelSelector: selector, ResourceVersion: rv})
	}, t.observePod)
	t.follow(wctx, "deployments", depList.ResourceVersion, func(ctx context.Context, rv string) (watch.Interface, error) {
		return deps.Watch(ctx, metav1.ListOptions{ResourceVersion: rv})
	}, t.observeDeployment)
	t.follow(wctx, "replicasets", rsList.ResourceVersion, func(ctx context.Context, rv string) (watch.Interface, error) {
		return rss.Watch(ctx, metav1.ListOptions{ResourceVersion: rv})
	}, t.observeReplicaSet)
	return t, nil
}

// stop ends the watches and waits for them. It may be called more than
// once.
func (t *tracker) stop() {
	t.cancel()
	t.wg.Wait()
}

// follow runs a watch in a goroutine the tracker owns, handing each event
// to observe and reopening it from the last resourceVersion when the
// server ends it.
func (t *tracker) follow(ctx context.Context, what, rv string, open func(context.Context, string) (watch.Interface, error),
	observe func(typ watch.EventType, obj runtime.Object, at time.Time)) {
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		failures := 0
		for ctx.Err() == nil {
			w, err := open(ctx, rv)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				if failures++; failures > 50 {
					t.fail(fmt.Errorf("watch %s: %w", what, err))
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
					t.fail(fmt.Errorf("%s watch: %w", what, err))
					w.Stop()
					return
				}
				if m, err := meta.Accessor(ev.Object); err == nil && m.GetResourceVersion() != "" {
					rv = m.GetResourceVersion()
				}
				if ev.Type != watch.Bookmark {
					observe(ev.Type, ev.Object, now)
				}
			}
			w.Stop()
			if ctx.Err() == nil {
				t.mu.Lock()
				t.reopened++
				t.mu.Unlock()
			}
		}
	}()
}

func (t *tracker) fail(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err == nil {
		t.err = err
	}
}

// isNewTemplate says whether a pod template is the rolled-out one.
func isNewTemplate(spec *corev1.PodSpec) bool {
	for _, c := range spec.Containers {
		for _, e := range c.Env {
			if e.Name == rolloutEnv {
				return true
			}
		}
	}
	return false
}

func (t *tracker) observePod(typ watch.EventType, obj runtime.Object, at time.Time) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lastEvent = at
	if t.win != nil {
		t.win.PodEvents++
	}
	p := t.pods[pod.Name]
	if p != nil && p.UID != pod.UID {
		// A new pod of the same name: the old one's deletion went unseen
		// (a reopened watch). Count it gone now.
		if p.GoneAt.IsZero() {
			t.cur.add(p, -1)
			p.GoneAt = at
		}
		p = nil
	}
	if p == nil {
		if typ == watch.Deleted {
			return
		}
		p = &podState{UID: pod.UID, New: isNewTemplate(&pod.Spec), FirstSeen: at}
		t.pods[pod.Name] = p
		if t.win != nil {
			t.win.Created++
		}
	} else if p.GoneAt.IsZero() {
		t.cur.add(p, -1)
	} else {
		return // already gone: a replayed event
	}
	if typ == watch.Deleted {
		p.GoneAt = at
		if t.win != nil {
			t.win.Deleted++
		}
	} else {
		p.Terminating = pod.DeletionTimestamp != nil
		p.Bound = pod.Spec.NodeName != ""
		p.Running = allRunning(pod)
		p.Ready = podReady(pod)
		if p.Bound && p.BoundAt.IsZero() {
			p.BoundAt = at
		}
		if p.Running && p.RunningAt.IsZero() {
			p.RunningAt = at
		}
		t.cur.add(p, 1)
	}
	t.noteExtremes(pod.ResourceVersion, at)
	t.checkGoals(at)
}

// noteExtremes updates the window's extremes from the counts. t.mu is held.
func (t *tracker) noteExtremes(rv string, at time.Time) {
	w := t.win
	if w == nil {
		return
	}
	ev := func() extreme {
		return extreme{After: at.Sub(w.start), Counts: t.cur, Revision: rv, ReplicaSets: t.rsSummary()}
	}
	if t.cur.Live > w.MaxLive {
		w.MaxLive, w.MaxLiveAt = t.cur.Live, ev()
	}
	if t.cur.Pods > w.MaxPods {
		w.MaxPods, w.MaxPodsAt = t.cur.Pods, ev()
	}
	if t.cur.Available < w.MinAvailable {
		w.MinAvailable, w.MinAvailableAt = t.cur.Available, ev()
	}
}

// rsSummary describes the ReplicaSets as last seen. t.mu is held.
func (t *tracker) rsSummary() string {
	var names []string
	for n := range t.rs {
		names = append(names, n)
	}
	sort.Strings(names)
	var parts []string
	for _, n := range names {
		r := t.rs[n]
		tmpl := "old template"
		if r.New {
			tmpl = "new template"
		}
		parts = append(parts, fmt.Sprintf("%s (%s) spec %d, status %d, available %d", n, tmpl, r.Spec, r.Replicas, r.Available))
	}
	if len(parts) == 0 {
		return "none seen"
	}
	return strings.Join(parts, "; ")
}

func (t *tracker) observeDeployment(typ watch.EventType, obj runtime.Object, at time.Time) {
	d, ok := obj.(*appsv1.Deployment)
	if !ok || d.Name != t.depName {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lastEvent = at
	if t.win != nil {
		t.win.DeploymentEvents++
	}
	if typ == watch.Deleted {
		t.dep, t.depGone = nil, true
	} else {
		t.dep, t.depGone = d, false
	}
	t.checkGoals(at)
}

func (t *tracker) observeReplicaSet(typ watch.EventType, obj runtime.Object, at time.Time) {
	rs, ok := obj.(*appsv1.ReplicaSet)
	if !ok {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lastEvent = at
	if t.win != nil {
		t.win.RSEvents++
	}
	if typ == watch.Deleted {
		delete(t.rs, rs.Name)
	} else {
		t.rs[rs.Name] = &rsState{
			New: isNewTemplate(&rs.Spec.Template.Spec), Spec: ptrOr(rs.Spec.Replicas, 1),
			Replicas: rs.Status.Replicas, Available: rs.Status.AvailableReplicas,
			ObservedGeneration: rs.Status.ObservedGeneration, Generation: rs.Generation,
		}
	}
	t.checkGoals(at)
}

func ptrOr(p *int32, def int32) int32 {
	if p == nil {
		return def
	}
	return *p
}

// checkGoals marks the goals met now. t.mu is held.
func (t *tracker) checkGoals(at time.Time) {
	for _, g := range t.goals {
		if g.at.IsZero() && g.cond(t) {
			g.at = at
		}
	}
}

// begin starts a window and sets the goals waited for in it (replacing
// the last window's). A goal already met is marked met now.
func (t *tracker) begin(start time.Time, goals []*goal) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.win = &window{start: start, MaxLive: t.cur.Live, MaxPods: t.cur.Pods, MinAvailable: t.cur.Available}
	ex := extreme{Counts: t.cur, ReplicaSets: t.rsSummary()}
	t.win.MaxLiveAt, t.win.MaxPodsAt, t.win.MinAvailableAt = ex, ex, ex
	t.goals = goals
	t.lastEvent = start // a stall is counted from the step's start at the earliest
	t.checkGoals(start)
}

// end closes the window and returns it and the goals.
func (t *tracker) end() (window, []*goal) {
	t.mu.Lock()
	defer t.mu.Unlock()
	w := *t.win
	t.win = nil
	goals := make([]*goal, len(t.goals))
	for i, g := range t.goals {
		c := *g
		goals[i] = &c
	}
	return w, goals
}

// errStalled and errTimedOut end a wait that is not getting anywhere.
var (
	errStalled  = errors.New("stalled")
	errTimedOut = errors.New("timed out")
)

// wait waits until every goal is met. It returns errStalled when no watch
// delivered an event for stall, errTimedOut after timeout, and an error
// when a watch failed or alive reports a component gone.
func (t *tracker) wait(ctx context.Context, stall, timeout time.Duration, alive func() error) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(timeout)
	for {
		t.mu.Lock()
		met, last, err := true, t.lastEvent, t.err
		for _, g := range t.goals {
			met = met && !g.at.IsZero()
		}
		t.mu.Unlock()
		switch {
		case err != nil:
			return err
		case met:
			return nil
		case time.Since(last) > stall:
			return fmt.Errorf("%w: no watch event for %v", errStalled, stall)
		case time.Now().After(deadline):
			return fmt.Errorf("%w after %v", errTimedOut, timeout)
		}
		if err := alive(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// podsSnapshot copies every pod's state, gone ones included.
func (t *tracker) podsSnapshot() map[string]podState {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]podState, len(t.pods))
	for n, p := range t.pods {
		out[n] = *p
	}
	return out
}

// now returns the current counts, the Deployment as last seen, and a
// description of the ReplicaSets.
func (t *tracker) now() (counts, *appsv1.Deployment, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cur, t.dep, t.rsSummary()
}

func (t *tracker) reopenedCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.reopened
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

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
