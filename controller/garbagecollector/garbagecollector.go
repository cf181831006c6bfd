// Package garbagecollector deletes objects whose owners are gone, as
// Kubernetes' garbage collector does. It follows metadata.ownerReferences
// across the resources it is given and serves the three deletion
// propagation policies:
//
//   - background (the default): once every owner of an object is gone the
//     object is deleted;
//   - foreground: an owner being deleted with the foregroundDeletion
//     finalizer has its dependents deleted, and loses the finalizer (and so
//     goes) once no dependent that blocks it (blockOwnerDeletion) is left;
//   - orphan: an owner being deleted with the orphan finalizer has the
//     references to it removed from its dependents, then loses the
//     finalizer.
//
// The apiserver adds those finalizers on a DELETE with a propagation
// policy, and removes an object whose last finalizer goes.
package garbagecollector

import (
	"context"
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/controller"
	"github.com/shepherd-lab/shepherd/storage"
	"github.com/shepherd-lab/shepherd/storage/informer"
)

// Name is the controller's name.
const Name = "garbagecollector"

// Controller is the garbage collector.
type Controller struct {
	c         *controller.Context
	resources []*api.Resource
	byKind    map[schema.GroupKind]*api.Resource
	graph     *graph
	queue     *controller.Queue
}

var _ controller.Controller = (*Controller)(nil)

// New builds the collector over resources and registers its handlers on
// their shared informers.
func New(c *controller.Context, resources []*api.Resource) *Controller {
	gc := &Controller{
		c: c, resources: resources, byKind: map[schema.GroupKind]*api.Resource{},
		graph: newGraph(), queue: c.NewQueue(Name),
	}
	for _, res := range resources {
		gc.byKind[res.GroupKind()] = res
		c.Informers.For(res).AddHandler(informer.Funcs{
			Add:    func(obj runtime.Object) { gc.observe(res, nil, obj) },
			Update: func(old, obj runtime.Object) { gc.observe(res, old, obj) },
			Delete: func(obj runtime.Object) { gc.forget(obj) },
		})
	}
	return gc
}

// Name returns "garbagecollector".
func (gc *Controller) Name() string { return Name }

// Run waits for the informers' first lists, so the graph is whole, then
// processes the queue until ctx ends.
func (gc *Controller) Run(ctx context.Context, workers int) {
	if err := gc.c.Informers.WaitSynced(ctx); err != nil {
		return
	}
	controller.Work(ctx, gc.queue, workers, gc.sync, gc.c.Log)
}

// observe records an added or changed object. The object itself is
// queued when it may have a missing owner or is being deleted with a
// propagation finalizer; owners it gained or lost are queued, as their
// foreground deletion may be waiting on it.
func (gc *Controller) observe(res *api.Resource, old, obj runtime.Object) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	n := nodeOf(res, m)
	changed := gc.graph.set(n)
	if m.GetDeletionTimestamp() != nil && hasPropagationFinalizer(m.GetFinalizers()) {
		gc.queue.Add(string(n.uid))
	}
	var oldRefs []metav1.OwnerReference
	if old != nil {
		if om, err := meta.Accessor(old); err == nil {
			oldRefs = om.GetOwnerReferences()
		}
	}
	if !slices.EqualFunc(oldRefs, n.owners, sameRef) {
		if len(n.owners) > 0 {
			gc.queue.Add(string(n.uid))
		}
		// Owners whose reference changed (blockOwnerDeletion, say).
		changed = append(changed, uids(oldRefs)...)
	}
	for _, o := range changed {
		gc.queue.Add(string(o))
	}
}

// forget drops a removed object: its dependents may have lost their last
// owner, its owners may have lost a blocking dependent.
func (gc *Controller) forget(obj runtime.Object) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	owners, dependents := gc.graph.remove(m.GetUID())
	for _, u := range append(owners, dependents...) {
		gc.queue.Add(string(u))
	}
}

// sync acts on the object of one UID, read from storage: an owner being
// deleted with a propagation finalizer has its dependents handled; any
// other object with owners is checked for missing ones.
func (gc *Controller) sync(ctx context.Context, key string) error {
	n := gc.graph.get(types.UID(key))
	if n == nil {
		return nil // gone, or an owner never seen: its dependents are queued themselves
	}
	obj, err := gc.c.Store.Get(ctx, n.res.Storage, n.namespace, n.name)
	if storage.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	m, _ := meta.Accessor(obj)
	if m.GetUID() != n.uid {
		return nil // replaced: the informer will tell us
	}
	if m.GetDeletionTimestamp() != nil {
		switch f := m.GetFinalizers(); {
		case slices.Contains(f, metav1.FinalizerOrphanDependents):
			return gc.orphanDependents(ctx, n)
		case slices.Contains(f, metav1.FinalizerDeleteDependents):
			return gc.deleteDependents(ctx, n)
		}
		return nil // being deleted anyway
	}
	if len(m.GetOwnerReferences()) == 0 {
		return nil
	}
	return gc.checkOwners(ctx, n, obj)
}

// orphanDependents removes the references to owner from its dependents,
// then the orphan finalizer from owner. The dependents are those the graph
// knows and those storage holds: a dependent created just before the owner
// was deleted may not have reached the informers yet, and left owned it
// would be collected once the owner is gone.
func (gc *Controller) orphanDependents(ctx context.Context, owner *node) error {
	live, err := gc.liveDependents(ctx, owner)
	if err != nil {
		return err
	}
	for _, d := range append(gc.graph.dependentsOf(owner.uid), live...) {
		if err := gc.removeRefs(ctx, d, map[types.UID]bool{owner.uid: true}); err != nil {
			return fmt.Errorf("orphan %s %s: %w", d.res.Kind, nodeKey(d), err)
		}
	}
	return gc.removeFinalizer(ctx, owner, metav1.FinalizerOrphanDependents)
}

// deleteDependents has the dependents of owner, deleted in the foreground,
// checked (each is then deleted unless another owner keeps it), and
// removes the foregroundDeletion finalizer once no dependent blocks owner.
// The graph says when to wait; storage confirms that nothing blocks, for
// a dependent the informers have not delivered yet.
//
// Owners whose references form a cycle, deleted in the foreground, would
// each wait for the next forever (Kubernetes' conformance test "should
// not be blocked by dependency circle" makes one of three pods). When
// owner waits on itself through such a cycle, the references to it that
// close the cycle stop blocking it, so it goes first and the others follow
// in turn. Kubernetes breaks the cycle at the same point in principle (a
// dependent of a foreground deletion stops blocking its owners); doing it
// here, once every member waits, also frees cycles whose members were
// all deleted in the foreground by users, or by racing workers.
func (gc *Controller) deleteDependents(ctx context.Context, owner *node) error {
	blocked := false
	for _, d := range gc.graph.dependentsOf(owner.uid) {
		if !d.foreground {
			// One being deleted in the foreground is synced on its own
			// changes; queueing it here would have the members of a cycle
			// queue each other without end.
			gc.queue.Add(string(d.uid))
		}
		blocked = blocked || blocks(d, owner.uid)
	}
	if blocked {
		for _, d := range waitCycle(owner.uid, gc.graph.waitsOn) {
			dep := gc.graph.get(d)
			if dep == nil {
				continue
			}
			gc.c.Log.Debug("unblocking a cycle of foreground deletions", "owner", owner.res.Kind+" "+nodeKey(owner), "dependent", dep.res.Kind+" "+nodeKey(dep))
			if err := gc.editRefs(ctx, dep, func(r *metav1.OwnerReference) bool {
				if r.UID == owner.uid && r.BlockOwnerDeletion != nil && *r.BlockOwnerDeletion {
					r.BlockOwnerDeletion = ptr.To(false)
				}
				return true
			}); err != nil {
				return fmt.Errorf("unblock %s %s: %w", dep.res.Kind, nodeKey(dep), err)
			}
		}
		// The removal of a blocking dependent (or of its reference, or of
		// its blockOwnerDeletion) queues owner again.
		return nil
	}
	live, err := gc.liveDependents(ctx, owner)
	if err != nil {
		return err
	}
	for _, d := range live {
		if blocks(d, owner.uid) {
			// Not in the graph yet: its arrival has it checked, which
			// deletes it or drops its reference, and either queues owner.
			return nil
		}
	}
	return gc.removeFinalizer(ctx, owner, metav1.FinalizerDeleteDependents)
}

// blocks reports whether d blocks the foreground deletion of owner.
func blocks(d *node, owner types.UID) bool {
	for _, r := range d.owners {
		if r.UID == owner && r.BlockOwnerDeletion != nil && *r.BlockOwnerDeletion {
			return true
		}
	}
	return false
}

// liveDependents lists, from storage, the objects naming owner among their
// owners: in owner's namespace, or anywhere for a cluster-scoped owner. It
// reads every resource, so it is kept for the end of a deletion.
func (gc *Controller) liveDependents(ctx context.Context, owner *node) ([]*node, error) {
	var out []*node
	for _, res := range gc.resources {
		if owner.res.Namespaced && !res.Namespaced {
			continue // cluster-scoped objects cannot have namespaced owners
		}
		opts := storage.ListOptions{Namespace: owner.namespace}
		for {
			page, err := gc.c.Store.List(ctx, res.Storage, opts)
			if err != nil {
				return nil, fmt.Errorf("list %s: %w", res.Plural, err)
			}
			for _, obj := range page.Items {
				m, _ := meta.Accessor(obj)
				refs := m.GetOwnerReferences()
				if slices.ContainsFunc(refs, func(r metav1.OwnerReference) bool { return r.UID == owner.uid }) {
					out = append(out, nodeOf(res, m))
				}
			}
			if page.Continue == "" {
				break
			}
			opts.Continue = page.Continue
		}
	}
	return out, nil
}

// ownerState is what the collector knows of one owner of an object.
type ownerState int

const (
	// solid: the owner exists and keeps its dependents.
	solid ownerState = iota
	// dangling: the owner does not exist (or names another object).
	dangling
	// waiting: the owner is being deleted in the foreground, waiting for
	// its dependents to go.
	waiting
)

// action is what checkOwners does with an object.
type action int

const (
	keep action = iota
	// dropRefs removes the references to dangling and waiting owners: a
	// solid owner keeps the object.
	dropRefs
	deleteBackground
	deleteForeground
)

// decide chooses what to do with an object whose owners are in states,
// as Kubernetes' attemptToDeleteItem does. hasDependents: the object owns
// others itself (a foreground deletion then cascades).
func decide(states []ownerState, hasDependents bool) action {
	var nSolid, nDangling, nWaiting int
	for _, s := range states {
		switch s {
		case solid:
			nSolid++
		case dangling:
			nDangling++
		case waiting:
			nWaiting++
		}
	}
	switch {
	case len(states) == 0:
		return keep
	case nSolid > 0:
		if nDangling+nWaiting == 0 {
			return keep
		}
		return dropRefs
	case nWaiting > 0 && hasDependents:
		return deleteForeground
	default:
		return deleteBackground
	}
}

// checkOwners looks up the owners of obj and deletes it, or drops its
// references to owners that are gone, when no owner keeps it.
func (gc *Controller) checkOwners(ctx context.Context, n *node, obj runtime.Object) error {
	m, _ := meta.Accessor(obj)
	refs := m.GetOwnerReferences()
	states := make([]ownerState, len(refs))
	drop := map[types.UID]bool{}
	for i, r := range refs {
		s, err := gc.ownerState(ctx, n, obj, r)
		if err != nil {
			return err
		}
		states[i] = s
		if s != solid {
			drop[r.UID] = true
		}
	}
	hasDependents := len(gc.graph.dependentsOf(n.uid)) > 0
	if !hasDependents && slices.Contains(states, waiting) {
		// Whether n is deleted in the foreground in turn depends on its
		// dependents: ask storage, as the informers may not have delivered
		// them yet.
		live, err := gc.liveDependents(ctx, n)
		if err != nil {
			return err
		}
		hasDependents = len(live) > 0
	}
	switch decide(states, hasDependents) {
	case dropRefs:
		return gc.removeRefs(ctx, n, drop)
	case deleteForeground:
		return gc.delete(ctx, n, metav1.DeletePropagationForeground)
	case deleteBackground:
		policy := metav1.DeletePropagationBackground
		// An object already carrying a propagation finalizer keeps its
		// policy, as in Kubernetes.
		switch f := m.GetFinalizers(); {
		case slices.Contains(f, metav1.FinalizerOrphanDependents):
			policy = metav1.DeletePropagationOrphan
		case slices.Contains(f, metav1.FinalizerDeleteDependents):
			policy = metav1.DeletePropagationForeground
		}
		return gc.delete(ctx, n, policy)
	}
	return nil
}

// ownerState finds the owner r of dependent n: in the graph when the
// informers know it, else by a read of storage, so that a stale cache
// never gets a dependent deleted. A namespaced dependent's owner is looked
// for in its own namespace: an owner in another namespace does not count
// (Kubernetes' OwnerRefInvalidNamespace); a cluster-scoped dependent
// naming a namespaced owner can never be resolved, and is kept.
func (gc *Controller) ownerState(ctx context.Context, n *node, obj runtime.Object, r metav1.OwnerReference) (ownerState, error) {
	gv, err := schema.ParseGroupVersion(r.APIVersion)
	if err != nil {
		return solid, nil // unresolvable: keep, as Kubernetes does
	}
	res := gc.byKind[schema.GroupKind{Group: gv.Group, Kind: r.Kind}]
	if res == nil {
		gc.c.Log.Debug("owner of unknown kind", "dependent", n.res.Kind+" "+nodeKey(n), "owner", r.APIVersion+"/"+r.Kind)
		return solid, nil
	}
	ns := ""
	if res.Namespaced {
		if !n.res.Namespaced {
			gc.c.Events.Record(n.res, obj, corev1.EventTypeWarning, "OwnerRefInvalidNamespace",
				fmt.Sprintf("ownerRef [%s, namespace: , name: %s, uid: %s] is namespaced, but the cluster-scoped dependent %s cannot have a namespaced owner", gvk(r), r.Name, r.UID, n.name))
			return solid, nil
		}
		ns = n.namespace
	}
	if o := gc.graph.get(r.UID); o != nil {
		if o.res == res && o.namespace == ns && o.name == r.Name {
			// Only storage may say an owner is gone.
			if owner := gc.c.Informers.For(res).Get(ns, r.Name); owner != nil {
				if s := stateOf(owner, r.UID); s != dangling {
					return s, nil
				}
			}
		} else if o.res == res && o.name == r.Name && o.namespace != ns {
			gc.c.Events.Record(n.res, obj, corev1.EventTypeWarning, "OwnerRefInvalidNamespace",
				fmt.Sprintf("ownerRef [%s, namespace: %s, name: %s, uid: %s] does not exist in namespace %q", gvk(r), n.namespace, r.Name, r.UID, n.namespace))
		}
	}
	owner, err := gc.c.Store.Get(ctx, res.Storage, ns, r.Name)
	if storage.IsNotFound(err) {
		return dangling, nil
	}
	if err != nil {
		return solid, err
	}
	return stateOf(owner, r.UID), nil
}

// stateOf is the state of owner as the owner of uid.
func stateOf(owner runtime.Object, uid types.UID) ownerState {
	m, _ := meta.Accessor(owner)
	switch {
	case m.GetUID() != uid:
		return dangling
	case m.GetDeletionTimestamp() != nil && slices.Contains(m.GetFinalizers(), metav1.FinalizerDeleteDependents):
		return waiting
	}
	return solid
}

// delete deletes n, if it is still the object of its UID.
func (gc *Controller) delete(ctx context.Context, n *node, policy metav1.DeletionPropagation) error {
	gc.c.Log.Debug("deleting dependent", "kind", n.res.Kind, "object", nodeKey(n), "propagation", policy)
	_, err := Delete(ctx, gc.c.Store, gc.c.Admission, n.res, n.namespace, n.name, n.uid, policy, gc.c.Fence)
	return err
}

// removeRefs removes from n its references to the given owners.
func (gc *Controller) removeRefs(ctx context.Context, n *node, owners map[types.UID]bool) error {
	return gc.editRefs(ctx, n, func(r *metav1.OwnerReference) bool { return !owners[r.UID] })
}

// editRefs rewrites n's owner references with edit, which may change a
// reference and reports whether it is kept. Nothing is written when
// nothing changes.
func (gc *Controller) editRefs(ctx context.Context, n *node, edit func(*metav1.OwnerReference) bool) error {
	_, err := gc.c.Store.GuaranteedUpdate(ctx, n.res.Storage, n.namespace, n.name, func(cur runtime.Object) (runtime.Object, error) {
		m, _ := meta.Accessor(cur)
		if m.GetUID() != n.uid {
			return nil, errReplaced
		}
		old := cur.DeepCopyObject()
		var refs []metav1.OwnerReference
		for _, r := range m.GetOwnerReferences() {
			if edit(&r) {
				refs = append(refs, r)
			}
		}
		if slices.EqualFunc(refs, m.GetOwnerReferences(), sameRef) {
			return nil, errUnchanged
		}
		m.SetOwnerReferences(refs)
		if err := gc.c.Admission.Update(ctx, n.res, cur, old); err != nil {
			return nil, err
		}
		return cur, nil
	}, nil, gc.c.Fence...)
	if storage.IsNotFound(err) || errors.Is(err, errReplaced) || errors.Is(err, errUnchanged) {
		return nil
	}
	return err
}

// removeFinalizer removes finalizer from n, which goes if that was what
// held it.
func (gc *Controller) removeFinalizer(ctx context.Context, n *node, finalizer string) error {
	out, err := gc.c.Store.GuaranteedUpdate(ctx, n.res.Storage, n.namespace, n.name, func(cur runtime.Object) (runtime.Object, error) {
		m, _ := meta.Accessor(cur)
		if m.GetUID() != n.uid {
			return nil, errReplaced
		}
		old := cur.DeepCopyObject()
		m.SetFinalizers(slices.DeleteFunc(m.GetFinalizers(), func(f string) bool { return f == finalizer }))
		if err := gc.c.Admission.Update(ctx, n.res, cur, old); err != nil {
			return nil, err
		}
		return cur, nil
	}, nil, gc.c.Fence...)
	if storage.IsNotFound(err) || errors.Is(err, errReplaced) {
		return nil
	}
	if err != nil {
		return err
	}
	return Finish(ctx, gc.c.Store, n.res, out, gc.c.Fence...)
}

var (
	errReplaced  = errors.New("object replaced")
	errUnchanged = errors.New("nothing to change")
)

// nodeOf is the graph's node for the object of res with metadata m.
func nodeOf(res *api.Resource, m metav1.Object) *node {
	return &node{
		res: res, namespace: m.GetNamespace(), name: m.GetName(), uid: m.GetUID(), owners: m.GetOwnerReferences(),
		foreground: m.GetDeletionTimestamp() != nil && slices.Contains(m.GetFinalizers(), metav1.FinalizerDeleteDependents),
	}
}

func hasPropagationFinalizer(f []string) bool {
	return slices.Contains(f, metav1.FinalizerOrphanDependents) || slices.Contains(f, metav1.FinalizerDeleteDependents)
}

func sameRef(a, b metav1.OwnerReference) bool {
	return a.UID == b.UID && (a.BlockOwnerDeletion == nil) == (b.BlockOwnerDeletion == nil) &&
		(a.BlockOwnerDeletion == nil || *a.BlockOwnerDeletion == *b.BlockOwnerDeletion)
}

func uids(refs []metav1.OwnerReference) []types.UID {
	out := make([]types.UID, len(refs))
	for i, r := range refs {
		out[i] = r.UID
	}
	return out
}

func gvk(r metav1.OwnerReference) string { return r.APIVersion + ", Kind=" + r.Kind }

func nodeKey(n *node) string {
	if n.namespace == "" {
		return n.name
	}
	return n.namespace + "/" + n.name
}
