package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/shepherd-lab/shepherd/test/bench/internal/benchutil"
)

const (
	namespace = "default"
	depName   = "cm-bench"
	appLabel  = "app"
	podImage  = "busybox"
	// rolloutEnv is the env var the rolling update adds to the template:
	// a pod with it is of the new template.
	rolloutEnv = "BENCH_ROLLOUT"
)

// newDeployment is the benchmark's Deployment: replicas pods of busybox,
// the strategy left for the apiserver to default (RollingUpdate, 25%
// surge, 25% unavailable).
func newDeployment(replicas int) *appsv1.Deployment {
	labels := map[string]string{appLabel: depName}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: depName, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(int32(replicas)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "app", Image: podImage, Command: []string{"sleep", "3600"},
				}}},
			},
		},
	}
}

// rolloutPatch changes the template: a strategic merge patch adding the
// env var, as `kubectl set env deployment/cm-bench BENCH_ROLLOUT=2` does.
const rolloutPatch = `{"spec":{"template":{"spec":{"containers":[{"name":"app","env":[{"name":"` + rolloutEnv + `","value":"2"}]}]}}}}`

// phase is one timed step: an API call, then the wait for the watches to
// show its goals met.
type phase struct {
	Name string
	Call time.Duration // the API call, sent to answered
	// Goals are the moments the step is timed by, from the call sent to
	// the watch event that showed each.
	Goals []goalResult
	// Done says every goal was met; Why says what ended the wait when
	// not, and State what the watches showed then.
	Done       bool
	Why, State string
	Window     window
	// Startup is of the pods this step created (nil for the delete).
	Startup *startup
	// CPU is each process's CPU time (by name) over the step, Wall its
	// length, from the call sent until the wait ended.
	CPU  map[string]time.Duration
	Self time.Duration // this process (the client, its watches)
	Wall time.Duration
	// RSS is each process's resident set at the step's end.
	RSS map[string]int64
}

type goalResult struct {
	Name  string
	After time.Duration
	Met   bool
}

// took is from the call sent to the last goal met; 0 unless Done.
func (p *phase) took() time.Duration {
	if !p.Done {
		return 0
	}
	var d time.Duration
	for _, g := range p.Goals {
		d = max(d, g.After)
	}
	return d
}

// startup is the per-pod latencies of the pods a step created, from the
// watch's first sight of a pod (its creation, give or take the watch's
// delay) to it bound, and to it Running with every container running.
type startup struct {
	Pods                             int // pods first seen in the step
	Latency, ToBound, BoundToRunning benchutil.Latencies
}

// bench is a run in progress.
type bench struct {
	cfg     config
	c       *cluster
	t       *tracker
	res     *results
	sampler *depthSampler
	// bounds are the controller-manager's /metrics at the start and at
	// the end of each step.
	bounds []scrape
}

// cpuNow reads each process's CPU time so far, and this process's.
func (b *bench) cpuNow() (map[string]time.Duration, time.Duration) {
	out := map[string]time.Duration{}
	for _, p := range b.c.procs() {
		if cpu, err := procCPU(p.Pid()); err == nil {
			out[p.Name] = cpu
		}
	}
	return out, benchutil.SelfCPU()
}

func (b *bench) scrapeCM(ctx context.Context) {
	sc, err := getMetrics(ctx, b.c.http, b.c.cmURL+"/metrics")
	if err != nil {
		b.res.MetricsErrors = append(b.res.MetricsErrors, err.Error())
	}
	b.bounds = append(b.bounds, sc) // nil when it failed: the deltas read 0
}

// step runs act, then waits for goals. It fills p and returns an error
// only when it could not measure (the call failed, a watch failed, a
// component died); a step that stalled or timed out is recorded in p.
func (b *bench) step(ctx context.Context, p *phase, goals []*goal, act func(ctx context.Context) error) error {
	cpu0, self0 := b.cpuNow()
	start := time.Now()
	b.t.begin(start, goals)
	err := act(ctx)
	p.Call = time.Since(start)
	if err != nil {
		b.t.end()
		return fmt.Errorf("%s: %w", p.Name, err)
	}
	werr := b.t.wait(ctx, b.cfg.StallTimeout, b.cfg.PhaseTimeout, b.c.aliveErr)
	w, gs := b.t.end()
	p.Wall = time.Since(start)
	cpu1, self1 := b.cpuNow()
	p.CPU, p.Self = map[string]time.Duration{}, self1-self0
	for n, v := range cpu1 {
		p.CPU[n] = v - cpu0[n]
	}
	p.RSS = map[string]int64{}
	for _, pr := range b.c.procs() {
		if m, err := procMemory(pr.Pid()); err == nil {
			p.RSS[pr.Name] = m.RSS
		}
	}
	b.scrapeCM(ctx)
	p.Window = w
	p.Done = true
	for _, g := range gs {
		r := goalResult{Name: g.name, Met: !g.at.IsZero()}
		if r.Met {
			r.After = g.at.Sub(start)
		}
		p.Done = p.Done && r.Met
		p.Goals = append(p.Goals, r)
	}
	if werr != nil {
		if !errors.Is(werr, errStalled) && !errors.Is(werr, errTimedOut) {
			return fmt.Errorf("%s: %w", p.Name, werr)
		}
		cur, dep, rs := b.t.now()
		p.Why = werr.Error()
		p.State = fmt.Sprintf("pods: %v; %s; replicasets: %s", cur, depStatus(dep), rs)
	}
	return nil
}

func depStatus(d *appsv1.Deployment) string {
	if d == nil {
		return "deployment: not seen (or deleted)"
	}
	s := d.Status
	return fmt.Sprintf("deployment: generation %d, observedGeneration %d, replicas %d, updated %d, ready %d, available %d, unavailable %d",
		d.Generation, s.ObservedGeneration, s.Replicas, s.UpdatedReplicas, s.ReadyReplicas, s.AvailableReplicas, s.UnavailableReplicas)
}

// startupOf collects the latencies of the pods of one template (new or
// old) first seen at or after since.
func startupOf(pods map[string]podState, newTemplate bool, since time.Time) *startup {
	s := &startup{}
	for _, p := range pods {
		if p.New != newTemplate || p.FirstSeen.Before(since) {
			continue
		}
		s.Pods++
		if !p.RunningAt.IsZero() {
			s.Latency = append(s.Latency, p.RunningAt.Sub(p.FirstSeen))
		}
		if !p.BoundAt.IsZero() {
			s.ToBound = append(s.ToBound, p.BoundAt.Sub(p.FirstSeen))
			if !p.RunningAt.IsZero() {
				s.BoundToRunning = append(s.BoundToRunning, p.RunningAt.Sub(p.BoundAt))
			}
		}
	}
	return s
}

// measureCreate creates the Deployment and waits for its pods to run and
// its status to say they are available.
func (b *bench) measureCreate(ctx context.Context) error {
	n := b.cfg.Replicas
	p := &b.res.Create
	p.Name = "create"
	goals := []*goal{
		{name: "first pod seen", cond: func(t *tracker) bool { return t.cur.Pods > 0 }},
		{name: fmt.Sprintf("%d pods created", n), cond: func(t *tracker) bool { return t.cur.Live >= n }},
		{name: fmt.Sprintf("%d pods bound", n), cond: func(t *tracker) bool { return t.cur.Bound >= n }},
		{name: fmt.Sprintf("%d pods Running", n), cond: func(t *tracker) bool { return t.cur.Running >= n }},
		{name: fmt.Sprintf("Deployment status: availableReplicas %d, observedGeneration current", n), cond: func(t *tracker) bool {
			d := t.dep
			return d != nil && d.Status.ObservedGeneration >= d.Generation && d.Status.AvailableReplicas == int32(n)
		}},
	}
	start := time.Now()
	err := b.step(ctx, p, goals, func(ctx context.Context) error {
		d, err := b.c.client.AppsV1().Deployments(namespace).Create(ctx, newDeployment(n), metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("create deployment: %w", err)
		}
		b.res.Strategy = describeStrategy(d, n)
		b.res.Generation = d.Generation
		return nil
	})
	p.Startup = startupOf(b.t.podsSnapshot(), false, start)
	return err
}

// strategy is the rolling update's limits as the apiserver defaulted them
// and the controller must honour them: pods not being deleted at most
// Replicas+Surge, available at least Replicas-Unavailable.
type strategy struct {
	Type                     string
	MaxSurge, MaxUnavailable string // as written ("25%")
	Surge, Unavailable       int    // in pods
	Defaulted                bool   // the apiserver filled them in
}

// describeStrategy reads the created Deployment's strategy. Percentages
// scale as Kubernetes scales them: surge rounds up, unavailable down.
// Without a strategy (the apiserver did not default it) Kubernetes'
// defaults are assumed, and the report says so.
func describeStrategy(d *appsv1.Deployment, replicas int) strategy {
	s := strategy{Type: string(d.Spec.Strategy.Type), MaxSurge: "25%", MaxUnavailable: "25%"}
	surge, unavail := intstr.FromString("25%"), intstr.FromString("25%")
	if ru := d.Spec.Strategy.RollingUpdate; ru != nil && ru.MaxSurge != nil && ru.MaxUnavailable != nil {
		surge, unavail = *ru.MaxSurge, *ru.MaxUnavailable
		s.MaxSurge, s.MaxUnavailable, s.Defaulted = surge.String(), unavail.String(), true
	}
	s.Surge, _ = intstr.GetScaledValueFromIntOrPercent(&surge, replicas, true)
	s.Unavailable, _ = intstr.GetScaledValueFromIntOrPercent(&unavail, replicas, false)
	return s
}

// measureRollout patches the template and waits for the rolling update to
// finish: the status says every replica is updated and available, every
// new pod runs, and no old pod is left.
func (b *bench) measureRollout(ctx context.Context) error {
	n := b.cfg.Replicas
	gen0 := b.res.Generation
	p := &b.res.Rollout
	p.Name = "rolling update"
	goals := []*goal{
		{name: "first new pod seen", cond: func(t *tracker) bool { return t.cur.New > 0 }},
		{name: fmt.Sprintf("%d new pods Running", n), cond: func(t *tracker) bool { return t.cur.NewRunning >= n }},
		{name: "last old pod gone", cond: func(t *tracker) bool { return t.cur.Old == 0 }},
		{name: fmt.Sprintf("Deployment status: updated = available = replicas = %d, observedGeneration current", n), cond: func(t *tracker) bool {
			d := t.dep
			if d == nil || d.Generation <= gen0 || d.Status.ObservedGeneration < d.Generation {
				return false
			}
			s := d.Status
			return s.UpdatedReplicas == int32(n) && s.AvailableReplicas == int32(n) && s.Replicas == int32(n)
		}},
	}
	start := time.Now()
	err := b.step(ctx, p, goals, func(ctx context.Context) error {
		d, err := b.c.client.AppsV1().Deployments(namespace).Patch(ctx, depName, types.StrategicMergePatchType, []byte(rolloutPatch), metav1.PatchOptions{})
		if err != nil {
			return fmt.Errorf("patch deployment: %w", err)
		}
		b.res.RolloutGeneration = d.Generation
		return nil
	})
	p.Startup = startupOf(b.t.podsSnapshot(), true, start)
	return err
}

// measureDelete deletes the Deployment as kubectl does (background
// propagation: the garbage collector deletes its ReplicaSets, and they
// their pods) and waits for everything to be gone.
func (b *bench) measureDelete(ctx context.Context) error {
	p := &b.res.Delete
	p.Name = "delete"
	goals := []*goal{
		{name: "Deployment gone", cond: func(t *tracker) bool { return t.depGone }},
		{name: "ReplicaSets gone", cond: func(t *tracker) bool { return len(t.rs) == 0 }},
		{name: "all pods gone", cond: func(t *tracker) bool { return t.cur.Pods == 0 }},
	}
	return b.step(ctx, p, goals, func(ctx context.Context) error {
		bg := metav1.DeletePropagationBackground
		err := b.c.client.AppsV1().Deployments(namespace).Delete(ctx, depName, metav1.DeleteOptions{PropagationPolicy: &bg})
		if !apierrors.IsBadRequest(err) {
			if err != nil {
				return fmt.Errorf("delete deployment: %w", err)
			}
			return nil
		}
		// client-go's typed apps/v1 client sends its DeleteOptions body
		// as apiVersion apps/v1, which Kubernetes accepts; an apiserver
		// that takes only v1 refuses it. The same options as query
		// parameters, with no body, say the same thing; the report tells
		// of the refusal.
		b.res.DeleteFallback = err.Error()
		err = b.c.client.AppsV1().RESTClient().Delete().Namespace(namespace).Resource("deployments").Name(depName).
			Param("propagationPolicy", string(bg)).Do(ctx).Error()
		if err != nil {
			return fmt.Errorf("delete deployment (propagationPolicy as a query parameter): %w", err)
		}
		return nil
	})
}

// finalState is what lists show once the rolling update is complete.
type finalState struct {
	Pods, NewPods, RunningReady int
	// OwnedByNewRS are pods whose controller is the new template's
	// ReplicaSet.
	OwnedByNewRS int
	NodesUsed    int
	MostOnANode  int
	ReplicaSets  []string // described
	Events       []eventCount
	EventsError  string
}

type eventCount struct {
	Reason string
	Kind   string // the involved object's
	Count  int    // sum of the events' counts
}

// checkFinal lists the pods, ReplicaSets and events after the rolling
// update, and records as violations whatever a completed rollout must not
// show.
func (b *bench) checkFinal(ctx context.Context) error {
	n := b.cfg.Replicas
	f := &b.res.Final
	violate := func(format string, args ...any) {
		b.res.Violations = append(b.res.Violations, fmt.Sprintf(format, args...))
	}
	dep, err := b.c.client.AppsV1().Deployments(namespace).Get(ctx, depName, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get deployment: %w", err)
	}
	rsList, err := b.c.client.AppsV1().ReplicaSets(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list replicasets: %w", err)
	}
	ownedRS := map[types.UID]*appsv1.ReplicaSet{}
	var newRS []types.UID
	for i := range rsList.Items {
		rs := &rsList.Items[i]
		tmpl := "old template"
		if isNewTemplate(&rs.Spec.Template.Spec) {
			tmpl = "new template"
		}
		owner := metav1.GetControllerOf(rs)
		owned := owner != nil && owner.UID == dep.UID
		f.ReplicaSets = append(f.ReplicaSets, fmt.Sprintf("%s (%s, hash %s): spec %d, status %d, ready %d, available %d, owned by the Deployment: %v",
			rs.Name, tmpl, rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey], ptrOr(rs.Spec.Replicas, 1),
			rs.Status.Replicas, rs.Status.ReadyReplicas, rs.Status.AvailableReplicas, owned))
		if !owned {
			violate("ReplicaSet %s is not controlled by Deployment %s (controller ref %v)", rs.Name, depName, owner)
			continue
		}
		ownedRS[rs.UID] = rs
		switch {
		case isNewTemplate(&rs.Spec.Template.Spec):
			newRS = append(newRS, rs.UID)
			if ptrOr(rs.Spec.Replicas, 1) != int32(n) || rs.Status.AvailableReplicas != int32(n) {
				violate("new ReplicaSet %s: spec %d, available %d; want %d", rs.Name, ptrOr(rs.Spec.Replicas, 1), rs.Status.AvailableReplicas, n)
			}
		case ptrOr(rs.Spec.Replicas, 1) != 0 || rs.Status.Replicas != 0:
			violate("old ReplicaSet %s: spec %d, status %d; want 0 and 0", rs.Name, ptrOr(rs.Spec.Replicas, 1), rs.Status.Replicas)
		}
	}
	if len(newRS) != 1 || len(ownedRS) != 2 {
		violate("%d ReplicaSets of the Deployment, %d with the new template; want 2 (one old, scaled to 0) and 1", len(ownedRS), len(newRS))
	}
	pods, err := b.c.client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: appLabel + "=" + depName})
	if err != nil {
		return fmt.Errorf("list pods: %w", err)
	}
	perNode := map[string]int{}
	for i := range pods.Items {
		pod := &pods.Items[i]
		f.Pods++
		if isNewTemplate(&pod.Spec) {
			f.NewPods++
		}
		if allRunning(pod) && podReady(pod) {
			f.RunningReady++
		}
		if owner := metav1.GetControllerOf(pod); owner != nil && len(newRS) == 1 && owner.UID == newRS[0] {
			f.OwnedByNewRS++
		}
		if pod.Spec.NodeName != "" {
			perNode[pod.Spec.NodeName]++
		}
	}
	f.NodesUsed = len(perNode)
	for _, c := range perNode {
		f.MostOnANode = max(f.MostOnANode, c)
	}
	if f.Pods != n || f.NewPods != n || f.RunningReady != n || f.OwnedByNewRS != n {
		violate("after the rollout: %d pods, %d of the new template, %d Running and Ready, %d controlled by the new ReplicaSet; want %d of each",
			f.Pods, f.NewPods, f.RunningReady, f.OwnedByNewRS, n)
	}
	if f.MostOnANode > nodePods {
		violate("a node holds %d pods, over its capacity of %d", f.MostOnANode, nodePods)
	}

	events, err := b.c.client.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		f.EventsError = err.Error()
		return nil
	}
	idx := map[[2]string]int{}
	for _, e := range events.Items {
		k := [2]string{e.Reason, e.InvolvedObject.Kind}
		i, ok := idx[k]
		if !ok {
			i = len(f.Events)
			idx[k] = i
			f.Events = append(f.Events, eventCount{Reason: e.Reason, Kind: e.InvolvedObject.Kind})
		}
		f.Events[i].Count += int(max(e.Count, 1))
	}
	sort.Slice(f.Events, func(i, j int) bool { return f.Events[i].Count > f.Events[j].Count })
	return nil
}

// checkWindows records as violations what the watches saw that the
// controllers must never do: more pods than replicas while scaling up,
// and a rolling update that went past its surge or below its availability.
func (b *bench) checkWindows() {
	n, s := b.cfg.Replicas, b.res.Strategy
	violate := func(format string, args ...any) {
		b.res.Violations = append(b.res.Violations, fmt.Sprintf(format, args...))
	}
	if w := b.res.Create.Window; w.MaxLive > n {
		violate("while creating: %d pods not being deleted existed at once, more than the %d replicas, %.3fs after the create (pod event at revision %s): %v; replicasets then: %s",
			w.MaxLive, n, w.MaxLiveAt.After.Seconds(), w.MaxLiveAt.Revision, w.MaxLiveAt.Counts, w.MaxLiveAt.ReplicaSets)
	}
	if w := b.res.Create.Window; w.Deleted > 0 {
		violate("while creating: %d pods were deleted (the ReplicaSet controller should only create)", w.Deleted)
	}
	if !b.res.Create.Done {
		return
	}
	w := b.res.Rollout.Window
	if limit := n + s.Surge; w.MaxLive > limit {
		violate("rolling update: %d pods not being deleted existed at once, over replicas + maxSurge = %d + %d = %d, %.3fs after the patch (pod event at revision %s): %v; replicasets then: %s",
			w.MaxLive, n, s.Surge, limit, w.MaxLiveAt.After.Seconds(), w.MaxLiveAt.Revision, w.MaxLiveAt.Counts, w.MaxLiveAt.ReplicaSets)
	}
	if limit := n - s.Unavailable; w.MinAvailable < limit {
		violate("rolling update: only %d pods available, under replicas - maxUnavailable = %d - %d = %d, %.3fs after the patch (pod event at revision %s): %v; replicasets then: %s",
			w.MinAvailable, n, s.Unavailable, limit, w.MinAvailableAt.After.Seconds(), w.MinAvailableAt.Revision, w.MinAvailableAt.Counts, w.MinAvailableAt.ReplicaSets)
	}
}
