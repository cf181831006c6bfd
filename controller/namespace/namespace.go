// Package namespace finishes the deletion of namespaces, as Kubernetes'
// namespace controller does. A deleted namespace turns Terminating and
// keeps the "kubernetes" finalizer in spec.finalizers; the controller
// deletes every object of every namespaced resource in it (pods
// gracefully: a bound pod goes once its kubelet has stopped it), reports
// progress in the namespace's status conditions, and once nothing is left
// removes the finalizer, which removes the namespace.
package namespace

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/controller"
	"github.com/shepherd-lab/shepherd/controller/garbagecollector"
	"github.com/shepherd-lab/shepherd/storage"
	"github.com/shepherd-lab/shepherd/storage/informer"
)

// Name is the controller's name.
const Name = "namespace"

// RecheckInterval is how soon a namespace whose content is not all gone
// is looked at again, should no deletion of that content be seen first.
const RecheckInterval = 5 * time.Second

// Controller is the namespace controller.
type Controller struct {
	c          *controller.Context
	resources  []*api.Resource // the namespaced ones
	namespaces *controller.Shared
	queue      *controller.Queue
}

var _ controller.Controller = (*Controller)(nil)

// New builds the controller; it empties namespaces of the namespaced
// resources among resources.
func New(c *controller.Context, resources []*api.Resource) *Controller {
	nc := &Controller{c: c, namespaces: c.Informers.For(api.Namespaces), queue: c.NewQueue(Name)}
	enqueue := func(obj runtime.Object) {
		if ns, ok := obj.(*corev1.Namespace); ok && ns.DeletionTimestamp != nil {
			nc.queue.Add(ns.Name)
		}
	}
	nc.namespaces.AddHandler(informer.Funcs{
		Add:    enqueue,
		Update: func(_, obj runtime.Object) { enqueue(obj) },
	})
	for _, res := range resources {
		if !res.Namespaced {
			continue
		}
		nc.resources = append(nc.resources, res)
		// Content going away (or losing a finalizer) may be what a
		// terminating namespace waits for.
		content := func(obj runtime.Object) {
			m, err := meta.Accessor(obj)
			if err != nil {
				return
			}
			if ns, ok := nc.namespaces.Get("", m.GetNamespace()).(*corev1.Namespace); ok && ns.DeletionTimestamp != nil {
				nc.queue.Add(ns.Name)
			}
		}
		c.Informers.For(res).AddHandler(informer.Funcs{
			Update: func(_, obj runtime.Object) { content(obj) },
			Delete: content,
		})
	}
	return nc
}

// Name returns "namespace".
func (nc *Controller) Name() string { return Name }

// Run processes the queue until ctx ends.
func (nc *Controller) Run(ctx context.Context, workers int) {
	if err := nc.c.Informers.WaitSynced(ctx); err != nil {
		return
	}
	controller.Work(ctx, nc.queue, workers, nc.sync, nc.c.Log)
}

// FinalizerKubernetes is the spec.finalizers entry the controller owns.
const FinalizerKubernetes = corev1.FinalizerKubernetes

// sync advances the deletion of one namespace.
func (nc *Controller) sync(ctx context.Context, name string) error {
	nss := storage.NewTyped[*corev1.Namespace](nc.c.Store, api.Namespaces.Storage)
	ns, err := nss.Get(ctx, "", name)
	if storage.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if ns.DeletionTimestamp == nil {
		return nil
	}
	if !slices.Contains(ns.Spec.Finalizers, FinalizerKubernetes) {
		return garbagecollector.Finish(ctx, nc.c.Store, api.Namespaces, ns, nc.c.Fence...)
	}
	left := nc.deleteContent(ctx, name)
	if err := nc.writeConditions(ctx, ns, left.conditions(time.Now())); err != nil {
		return err
	}
	if len(left.errors) > 0 {
		return fmt.Errorf("namespace %s: %s", name, strings.Join(left.errors, "; "))
	}
	if left.total() > 0 {
		nc.queue.AddAfter(name, RecheckInterval)
		return nil
	}
	return nc.finalize(ctx, ns)
}

// content is what deleteContent found left in a namespace.
type content struct {
	// remaining counts the objects still present per resource.
	remaining map[string]int
	// finalizers counts the objects still held by each finalizer.
	finalizers map[string]int
	errors     []string
}

func (c content) total() int {
	n := 0
	for _, v := range c.remaining {
		n += v
	}
	return n
}

// deleteContent deletes every object in namespace and returns what is
// left: objects being deleted gracefully or held by finalizers.
func (nc *Controller) deleteContent(ctx context.Context, namespace string) content {
	left := content{remaining: map[string]int{}, finalizers: map[string]int{}}
	for _, res := range nc.resources {
		page, err := nc.c.Store.List(ctx, res.Storage, storage.ListOptions{Namespace: namespace})
		for err == nil {
			for _, obj := range page.Items {
				m, _ := meta.Accessor(obj)
				gone := false
				if m.GetDeletionTimestamp() == nil {
					var derr error
					gone, derr = garbagecollector.Delete(ctx, nc.c.Store, nc.c.Admission, res, namespace, m.GetName(), m.GetUID(), metav1.DeletePropagationBackground, nc.c.Fence)
					if derr != nil {
						left.errors = append(left.errors, fmt.Sprintf("%s: %v", res.GroupResource(), derr))
					}
				}
				if gone {
					continue
				}
				left.remaining[res.GroupResource().String()]++
				for _, f := range m.GetFinalizers() {
					left.finalizers[f]++
				}
			}
			if page.Continue == "" {
				break
			}
			page, err = nc.c.Store.List(ctx, res.Storage, storage.ListOptions{Namespace: namespace, Continue: page.Continue})
		}
		if err != nil {
			left.errors = append(left.errors, fmt.Sprintf("%s: %v", res.GroupResource(), err))
		}
	}
	return left
}

// conditions are the namespace's deletion conditions, as Kubernetes
// reports them.
func (c content) conditions(now time.Time) []corev1.NamespaceCondition {
	cond := func(t corev1.NamespaceConditionType, ok bool, reason, msg, okReason, okMsg string) corev1.NamespaceCondition {
		if ok {
			return corev1.NamespaceCondition{Type: t, Status: corev1.ConditionFalse, Reason: okReason, Message: okMsg, LastTransitionTime: metav1.NewTime(now)}
		}
		return corev1.NamespaceCondition{Type: t, Status: corev1.ConditionTrue, Reason: reason, Message: msg, LastTransitionTime: metav1.NewTime(now)}
	}
	var remaining, finalizers []string
	for _, r := range sortedKeys(c.remaining) {
		remaining = append(remaining, fmt.Sprintf("%s has %d resource instances", r, c.remaining[r]))
	}
	for _, f := range sortedKeys(c.finalizers) {
		finalizers = append(finalizers, fmt.Sprintf("%s in %d resource instances", f, c.finalizers[f]))
	}
	return []corev1.NamespaceCondition{
		cond(corev1.NamespaceDeletionDiscoveryFailure, true, "", "", "ResourcesDiscovered", "All resources successfully discovered"),
		cond(corev1.NamespaceDeletionGVParsingFailure, true, "", "", "ParsedGroupVersions", "All legacy kube types successfully parsed"),
		cond(corev1.NamespaceDeletionContentFailure, len(c.errors) == 0,
			"ContentDeletionFailed", "Failed to delete all resource types, "+fmt.Sprint(len(c.errors))+" remaining: "+strings.Join(c.errors, ", "),
			"ContentDeleted", "All content successfully deleted, may be waiting on finalization"),
		cond(corev1.NamespaceContentRemaining, len(remaining) == 0,
			"SomeResourcesRemain", "Some resources are remaining: "+strings.Join(remaining, ", "),
			"ContentRemoved", "All content successfully removed"),
		cond(corev1.NamespaceFinalizersRemaining, len(finalizers) == 0,
			"SomeFinalizersRemain", "Some content in the namespace has finalizers remaining: "+strings.Join(finalizers, ", "),
			"ContentHasNoFinalizers", "All content-preserving finalizers finished"),
	}
}

// writeConditions sets conds in the namespace's status, keeping the
// transition time of a condition whose status did not change; an
// unchanged status writes nothing.
func (nc *Controller) writeConditions(ctx context.Context, ns *corev1.Namespace, conds []corev1.NamespaceCondition) error {
	nss := storage.NewTyped[*corev1.Namespace](nc.c.Store, api.Namespaces.Storage)
	_, err := nss.GuaranteedUpdate(ctx, "", ns.Name, func(cur *corev1.Namespace) (*corev1.Namespace, error) {
		if cur.UID != ns.UID {
			return nil, fmt.Errorf("namespace %s: replaced", ns.Name)
		}
		old := cur.DeepCopy()
		cur.Status.Conditions = mergeConditions(cur.Status.Conditions, conds)
		if err := nc.c.Admission.UpdateStatus(ctx, api.Namespaces, cur, old); err != nil {
			return nil, err
		}
		return cur, nil
	}, nc.c.Fence...)
	return err
}

// mergeConditions returns have updated with want: a condition that keeps
// its status, reason and message is left as it was.
func mergeConditions(have, want []corev1.NamespaceCondition) []corev1.NamespaceCondition {
	out := slices.Clone(have)
	for _, w := range want {
		i := slices.IndexFunc(out, func(c corev1.NamespaceCondition) bool { return c.Type == w.Type })
		switch {
		case i < 0:
			out = append(out, w)
		case out[i].Status != w.Status:
			out[i] = w
		default:
			out[i].Reason, out[i].Message = w.Reason, w.Message
		}
	}
	return out
}

// finalize removes the kubernetes finalizer from spec.finalizers (the
// namespace "finalize" step), then removes the namespace if nothing else
// holds it.
func (nc *Controller) finalize(ctx context.Context, ns *corev1.Namespace) error {
	nss := storage.NewTyped[*corev1.Namespace](nc.c.Store, api.Namespaces.Storage)
	out, err := nss.GuaranteedUpdate(ctx, "", ns.Name, func(cur *corev1.Namespace) (*corev1.Namespace, error) {
		if cur.UID != ns.UID {
			return nil, fmt.Errorf("namespace %s: replaced", ns.Name)
		}
		// Written as the finalize subresource does: only spec.finalizers
		// changes (an update of the main resource would keep them).
		next := cur.DeepCopy()
		next.Spec.Finalizers = slices.DeleteFunc(next.Spec.Finalizers, func(f corev1.FinalizerName) bool { return f == FinalizerKubernetes })
		return next, nc.c.Admission.UpdateFinalize(ctx, api.Namespaces, next, cur)
	}, nc.c.Fence...)
	if storage.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	nc.c.Log.Info("namespace finalized", "namespace", ns.Name)
	return garbagecollector.Finish(ctx, nc.c.Store, api.Namespaces, out, nc.c.Fence...)
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
