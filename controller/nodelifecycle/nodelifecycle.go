// Package nodelifecycle is Kubernetes' node lifecycle controller: it
// watches each node's heartbeat (its kube-node-lease Lease and its Ready
// condition), marks a node whose kubelet stopped reporting Unknown, taints
// unhealthy nodes (not-ready, unreachable; NoSchedule at once, NoExecute at
// a per-zone rate), and, as the NoExecute taint manager, evicts the pods
// that do not tolerate a node's NoExecute taints.
package nodelifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shepherd-lab/shepherd/admission"
	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/controller"
	"github.com/shepherd-lab/shepherd/storage"
	"github.com/shepherd-lab/shepherd/storage/informer"
)

// Name is the controller's name.
const Name = "nodelifecycle"

// Options tune the controller; zero fields take Kubernetes' defaults.
type Options struct {
	// NodeMonitorGracePeriod is how long a node may go without a
	// heartbeat, as this controller observes it, before it is Unknown
	// (--node-monitor-grace-period, 50s).
	NodeMonitorGracePeriod time.Duration
	// NodeMonitorPeriod is how often every node's health is checked
	// (--node-monitor-period, 5s).
	NodeMonitorPeriod time.Duration
	// EvictionRate is how many nodes a second, per zone, get a NoExecute
	// taint (--node-eviction-rate, 0.1).
	EvictionRate float64
}

// Controller is the node lifecycle controller.
type Controller struct {
	c      *controller.Context
	opts   Options
	log    *slog.Logger
	nodes  *controller.Shared
	leases *controller.Shared
	pods   *controller.Shared
	// queue takes node names; podQueue ("noexec_taint_pod") the keys of
	// pods on nodes with NoExecute taints.
	queue, podQueue *controller.Queue
	tainter         *zoneQueues
	evictions       *prometheus.CounterVec
	now             func() time.Time

	mu sync.Mutex
	// probes are when each node's heartbeat was last seen to change, on
	// this controller's clock.
	probes map[string]*probe
	// podsOn indexes pod keys by node name.
	podsOn map[string]map[string]bool
}

type probe struct {
	seen      time.Time
	renewTime time.Time // the Lease's spec.renewTime last seen
	heartbeat time.Time // the Ready condition's lastHeartbeatTime last seen
}

// New builds the controller and registers its handlers and metrics.
func New(c *controller.Context, opts Options) *Controller {
	if opts.NodeMonitorGracePeriod <= 0 {
		opts.NodeMonitorGracePeriod = 50 * time.Second
	}
	if opts.NodeMonitorPeriod <= 0 {
		opts.NodeMonitorPeriod = 5 * time.Second
	}
	if opts.EvictionRate <= 0 {
		opts.EvictionRate = 0.1
	}
	log := c.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctl := &Controller{
		c: c, opts: opts, log: log.With("controller", Name),
		nodes: c.Informers.For(api.Nodes), leases: c.Informers.For(api.Leases), pods: c.Informers.For(api.Pods),
		queue: c.NewQueue(Name), podQueue: c.NewQueue("noexec_taint_pod"),
		tainter: newZoneQueues(opts.EvictionRate),
		evictions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Subsystem: "node_collector", Name: "evictions_total",
			Help: "Number of Node evictions that happened since current instance of NodeController started.",
		}, []string{"zone"}),
		now:    time.Now,
		probes: map[string]*probe{},
		podsOn: map[string]map[string]bool{},
	}
	if c.Registry != nil {
		c.Registry.MustRegister(ctl.evictions)
	}
	ctl.nodes.AddHandler(informer.Funcs{
		Add:    func(obj runtime.Object) { ctl.nodeChanged(nil, obj.(*corev1.Node)) },
		Update: func(old, obj runtime.Object) { ctl.nodeChanged(old.(*corev1.Node), obj.(*corev1.Node)) },
		Delete: func(obj runtime.Object) {
			n := obj.(*corev1.Node)
			ctl.mu.Lock()
			delete(ctl.probes, n.Name)
			ctl.mu.Unlock()
			ctl.tainter.remove(n.Name)
		},
	})
	ctl.leases.AddHandler(informer.Funcs{
		Add:    func(obj runtime.Object) { ctl.leaseChanged(obj.(*coordinationv1.Lease)) },
		Update: func(_, obj runtime.Object) { ctl.leaseChanged(obj.(*coordinationv1.Lease)) },
		Delete: func(obj runtime.Object) {
			if l := obj.(*coordinationv1.Lease); l.Namespace == corev1.NamespaceNodeLease {
				ctl.queue.Add(l.Name)
			}
		},
	})
	ctl.pods.AddHandler(informer.Funcs{
		Add:    func(obj runtime.Object) { ctl.podChanged(nil, obj.(*corev1.Pod)) },
		Update: func(old, obj runtime.Object) { ctl.podChanged(old.(*corev1.Pod), obj.(*corev1.Pod)) },
		Delete: func(obj runtime.Object) { ctl.podDeleted(obj.(*corev1.Pod)) },
	})
	return ctl
}

// Name is "nodelifecycle".
func (ctl *Controller) Name() string { return Name }

// Run checks node health and evicts pods until ctx ends.
func (ctl *Controller) Run(ctx context.Context, workers int) {
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		controller.Work(ctx, ctl.queue, workers, ctl.syncNode, ctl.log)
	}()
	go func() {
		defer wg.Done()
		controller.Work(ctx, ctl.podQueue, workers, ctl.syncPod, ctl.log)
	}()
	go func() { defer wg.Done(); ctl.loop(ctx) }()
	wg.Wait()
}

// evictionPeriod is how often the zone queues let nodes through, as
// Kubernetes' scheduledEviction period.
const evictionPeriod = 100 * time.Millisecond

// loop re-checks every node each NodeMonitorPeriod and applies the
// rate-limited NoExecute taints.
func (ctl *Controller) loop(ctx context.Context) {
	monitor := time.NewTicker(ctl.opts.NodeMonitorPeriod)
	defer monitor.Stop()
	evict := time.NewTicker(evictionPeriod)
	defer evict.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-monitor.C:
			for _, obj := range ctl.nodes.List() {
				ctl.queue.Add(controller.Key(obj))
			}
		case <-evict.C:
			for _, zn := range ctl.tainter.take(ctl.now()) {
				if err := ctl.taintNoExecute(ctx, zn[0], zn[1]); err != nil && ctx.Err() == nil {
					ctl.log.Warn("taint node NoExecute", "node", zn[1], "err", err)
					ctl.queue.AddRateLimited(zn[1]) // its sync queues it again
				}
			}
		}
	}
}

func (ctl *Controller) nodeChanged(old, n *corev1.Node) {
	hb := readyHeartbeat(n)
	ctl.mu.Lock()
	p := ctl.probes[n.Name]
	if p == nil {
		// First seen: its grace period starts now, as in Kubernetes.
		ctl.probes[n.Name] = &probe{seen: ctl.now(), heartbeat: hb}
	} else if !hb.Equal(p.heartbeat) {
		p.seen, p.heartbeat = ctl.now(), hb
	}
	ctl.mu.Unlock()
	ctl.queue.Add(n.Name)
	if old == nil || !sameNoExecute(old.Spec.Taints, n.Spec.Taints) {
		for _, key := range ctl.podKeys(n.Name) {
			ctl.podQueue.Add(key)
		}
	}
}

func (ctl *Controller) leaseChanged(l *coordinationv1.Lease) {
	if l.Namespace != corev1.NamespaceNodeLease {
		return
	}
	var renew time.Time
	if l.Spec.RenewTime != nil {
		renew = l.Spec.RenewTime.Time
	}
	ctl.mu.Lock()
	p := ctl.probes[l.Name]
	if p == nil {
		ctl.probes[l.Name] = &probe{seen: ctl.now(), renewTime: renew}
	} else if !renew.Equal(p.renewTime) {
		p.seen, p.renewTime = ctl.now(), renew
	}
	ctl.mu.Unlock()
	ctl.queue.Add(l.Name)
}

func readyHeartbeat(n *corev1.Node) time.Time {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.LastHeartbeatTime.Time
		}
	}
	return time.Time{}
}

// syncNode checks one node's heartbeat and brings its conditions and
// taints in line.
func (ctl *Controller) syncNode(ctx context.Context, name string) error {
	obj := ctl.nodes.Get("", name)
	if obj == nil {
		ctl.tainter.remove(name)
		return nil
	}
	node := obj.(*corev1.Node)
	now := ctl.now()
	ctl.mu.Lock()
	p := ctl.probes[name]
	if p == nil {
		p = &probe{seen: now}
		ctl.probes[name] = p
	}
	seen := p.seen
	ctl.mu.Unlock()
	stale := now.Sub(seen) > ctl.opts.NodeMonitorGracePeriod
	if !stale {
		// Check again when it would go stale.
		ctl.queue.AddAfter(name, ctl.opts.NodeMonitorGracePeriod-now.Sub(seen)+evictionPeriod)
	}
	// Most syncs change nothing: decide on the cached node first, so that
	// heartbeats cost no etcd round trip.
	needNoExecute, wentUnknown := false, false
	updated := node
	_, _, changed, need, err := plan(node, stale, now)
	if err != nil {
		return err
	}
	if changed {
		updated, err = storage.NewTyped[*corev1.Node](ctl.c.Store, api.Nodes.Storage).GuaranteedUpdate(ctx, "", name,
			func(cur *corev1.Node) (*corev1.Node, error) {
				if cur.UID != node.UID {
					return nil, fmt.Errorf("node %s: replaced", name)
				}
				next, unknown, _, need, err := plan(cur, stale, now)
				wentUnknown, needNoExecute = unknown, need
				if err != nil {
					return nil, err
				}
				// plan has applied the node strategy; the plugins see the
				// write as the apiserver's status and spec updates would.
				return next, ctl.c.Admission.Admit(ctx, &admission.Attributes{
					Operation: admission.Update, Resource: api.Nodes, Name: name, Object: next, OldObject: cur,
				})
			}, ctl.c.Fence...)
		if errors.Is(err, storage.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
	} else {
		needNoExecute = need
	}
	if wentUnknown {
		ctl.log.Info("node stopped posting status", "node", name)
		ctl.c.Events.Record(api.Nodes, updated, corev1.EventTypeNormal, "NodeNotReady",
			fmt.Sprintf("Node %s status is now: NodeNotReady", name))
	}
	if needNoExecute {
		ctl.tainter.add(zoneOf(updated), name)
	} else {
		ctl.tainter.remove(name)
	}
	return nil
}

// plan is node's next state: its watched conditions Unknown when its
// heartbeat is stale, its taints in line with Ready. wentUnknown says Ready
// just became Unknown; needNoExecute that the node waits for a NoExecute
// taint. The result passes the checks the apiserver applies to a status
// and a spec update.
func plan(node *corev1.Node, stale bool, now time.Time) (next *corev1.Node, wentUnknown, changed, needNoExecute bool, err error) {
	next = node.DeepCopy()
	if stale && markUnknown(&next.Status, now) {
		wentUnknown = readyStatus(node) != corev1.ConditionUnknown
		changed = true
		if err := api.Nodes.BeforeStatusUpdate(next, node); err != nil {
			return nil, false, false, false, err
		}
	}
	withStatus := next.DeepCopy()
	taintsChanged, needNoExecute := reconcileTaints(next, now)
	if taintsChanged {
		changed = true
		if err := api.Nodes.BeforeUpdate(next, withStatus); err != nil {
			return nil, false, false, false, err
		}
	}
	return next, wentUnknown, changed, needNoExecute, nil
}

// taintNoExecute adds a node's NoExecute taint, its turn in its zone
// having come; a node that recovered meanwhile is left alone.
func (ctl *Controller) taintNoExecute(ctx context.Context, zone, name string) error {
	added := false
	_, err := storage.NewTyped[*corev1.Node](ctl.c.Store, api.Nodes.Storage).GuaranteedUpdate(ctx, "", name,
		func(cur *corev1.Node) (*corev1.Node, error) {
			next := cur.DeepCopy()
			if added = addNoExecute(next, ctl.now()); added {
				if err := ctl.c.Admission.Update(ctx, api.Nodes, next, cur); err != nil {
					return nil, err
				}
			}
			return next, nil
		}, ctl.c.Fence...)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if added {
		ctl.evictions.WithLabelValues(zone).Inc()
		ctl.log.Info("node tainted NoExecute", "node", name, "zone", zone)
	}
	return nil
}

// zoneOf is the node's zone label ("" when it has none).
func zoneOf(n *corev1.Node) string {
	if z := n.Labels[corev1.LabelTopologyZone]; z != "" {
		return z
	}
	return n.Labels[corev1.LabelFailureDomainBetaZone]
}

func sameNoExecute(a, b []corev1.Taint) bool {
	filter := func(ts []corev1.Taint) []corev1.Taint {
		var out []corev1.Taint
		for _, t := range ts {
			if t.Effect == corev1.TaintEffectNoExecute {
				out = append(out, t)
			}
		}
		return out
	}
	fa, fb := filter(a), filter(b)
	if len(fa) != len(fb) {
		return false
	}
	for i := range fa {
		if !fa[i].MatchTaint(&fb[i]) || fa[i].Value != fb[i].Value || !fa[i].TimeAdded.Equal(fb[i].TimeAdded) {
			return false
		}
	}
	return true
}

func (ctl *Controller) podChanged(old, p *corev1.Pod) {
	key := controller.Key(p)
	ctl.mu.Lock()
	if old != nil && old.Spec.NodeName != "" && old.Spec.NodeName != p.Spec.NodeName {
		delete(ctl.podsOn[old.Spec.NodeName], key)
	}
	if p.Spec.NodeName != "" {
		if ctl.podsOn[p.Spec.NodeName] == nil {
			ctl.podsOn[p.Spec.NodeName] = map[string]bool{}
		}
		ctl.podsOn[p.Spec.NodeName][key] = true
	}
	ctl.mu.Unlock()
	if p.Spec.NodeName != "" && p.DeletionTimestamp == nil {
		ctl.podQueue.Add(key)
	}
}

func (ctl *Controller) podDeleted(p *corev1.Pod) {
	ctl.mu.Lock()
	defer ctl.mu.Unlock()
	if set := ctl.podsOn[p.Spec.NodeName]; set != nil {
		delete(set, controller.Key(p))
		if len(set) == 0 {
			delete(ctl.podsOn, p.Spec.NodeName)
		}
	}
}

func (ctl *Controller) podKeys(node string) []string {
	ctl.mu.Lock()
	defer ctl.mu.Unlock()
	keys := make([]string, 0, len(ctl.podsOn[node]))
	for k := range ctl.podsOn[node] {
		keys = append(keys, k)
	}
	return keys
}

// syncPod evicts a pod whose node's NoExecute taints it no longer
// tolerates, or looks at it again when its toleration runs out.
func (ctl *Controller) syncPod(ctx context.Context, key string) error {
	ns, name := controller.SplitKey(key)
	obj := ctl.pods.Get(ns, name)
	if obj == nil {
		return nil
	}
	pod := obj.(*corev1.Pod)
	if pod.Spec.NodeName == "" || pod.DeletionTimestamp != nil {
		return nil
	}
	nobj := ctl.nodes.Get("", pod.Spec.NodeName)
	if nobj == nil {
		return nil
	}
	now := ctl.now()
	at, evict := evictionTime(nobj.(*corev1.Node).Spec.Taints, pod.Spec.Tolerations, now)
	if !evict {
		return nil
	}
	if wait := at.Sub(now); wait > 0 {
		ctl.podQueue.AddAfter(key, wait)
		return nil
	}
	return ctl.evict(ctx, pod)
}

// evict deletes pod as a DELETE through the API would.
func (ctl *Controller) evict(ctx context.Context, pod *corev1.Pod) error {
	pods := storage.NewTyped[*corev1.Pod](ctl.c.Store, api.Pods.Storage)
	uid := pod.UID
	var remove, marked bool
	_, err := pods.GuaranteedUpdate(ctx, pod.Namespace, pod.Name, func(cur *corev1.Pod) (*corev1.Pod, error) {
		if cur.UID != uid {
			return nil, errReplaced
		}
		if err := ctl.c.Admission.Delete(ctx, api.Pods, cur.Namespace, cur.Name, cur); err != nil {
			return nil, err
		}
		next := cur.DeepCopy()
		marked, remove = markEvicted(next, ctl.now())
		return next, nil
	}, ctl.c.Fence...)
	switch {
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, errReplaced):
		return nil
	case err != nil:
		return err
	}
	if remove {
		_, err := pods.Delete(ctx, pod.Namespace, pod.Name, &storage.Preconditions{UID: ptrUID(uid)}, ctl.c.Fence...)
		if errors.Is(err, storage.ErrNotFound) || storage.IsConflict(err) {
			return nil
		}
		if err != nil {
			return err
		}
	} else if !marked {
		return nil
	}
	ctl.log.Info("evicting pod", "pod", pod.Namespace+"/"+pod.Name, "node", pod.Spec.NodeName)
	ctl.c.Events.Record(api.Pods, pod, corev1.EventTypeNormal, "TaintManagerEviction",
		fmt.Sprintf("Marking for deletion Pod %s/%s", pod.Namespace, pod.Name))
	return nil
}

var errReplaced = errors.New("replaced by another object of the same name")

func ptrUID(u types.UID) *types.UID { return &u }
