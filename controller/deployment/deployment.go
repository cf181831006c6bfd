// Package deployment is the Deployment controller: it rolls a
// Deployment's pod template out through ReplicaSets named
// <deployment>-<pod-template-hash>, one per template, scaling the new one
// up and the old ones down within maxSurge and maxUnavailable (or all old
// down first, for Recreate), keeps revisionHistoryLimit old ReplicaSets for
// `kubectl rollout undo`, and reports progress in the Deployment's status
// and its Progressing and Available conditions as Kubernetes does, so
// `kubectl rollout status` and `kubectl rollout history` work.
//
// It acts on its informers' view but writes every ReplicaSet change as a
// compare-and-swap against the version it saw, so a decision made on a
// stale view fails and is made again.
package deployment

import (
	"context"
	"log/slog"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/controller"
	"github.com/shepherd-lab/shepherd/storage"
	"github.com/shepherd-lab/shepherd/storage/informer"
)

// Name is the controller's name.
const Name = "deployment"

// Annotations Kubernetes' deployment controller and kubectl share.
const (
	RevisionAnnotation        = "deployment.kubernetes.io/revision"
	RevisionHistoryAnnotation = "deployment.kubernetes.io/revision-history"
	DesiredReplicasAnnotation = "deployment.kubernetes.io/desired-replicas"
	MaxReplicasAnnotation     = "deployment.kubernetes.io/max-replicas"
)

// Controller is the Deployment controller.
type Controller struct {
	c      *controller.Context
	log    *slog.Logger
	queue  *controller.Queue
	dInf   *controller.Shared
	rsInf  *controller.Shared
	podInf *controller.Shared
	deps   storage.Typed[*appsv1.Deployment]
	rsets  storage.Typed[*appsv1.ReplicaSet]
	now    func() time.Time
}

var _ controller.Controller = (*Controller)(nil)

// New builds the controller and registers its informer handlers.
func New(c *controller.Context) *Controller {
	dc := &Controller{
		c:      c,
		log:    c.Log.With("controller", Name),
		queue:  c.NewQueue(Name),
		dInf:   c.Informers.For(api.Deployments),
		rsInf:  c.Informers.For(api.ReplicaSets),
		podInf: c.Informers.For(api.Pods),
		deps:   storage.NewTyped[*appsv1.Deployment](c.Store, api.Deployments.Storage),
		rsets:  storage.NewTyped[*appsv1.ReplicaSet](c.Store, api.ReplicaSets.Storage),
		now:    time.Now,
	}
	enqueue := func(o runtime.Object) { dc.queue.Add(controller.Key(o)) }
	dc.dInf.AddHandler(informer.Funcs{Add: enqueue, Update: func(_, o runtime.Object) { enqueue(o) }, Delete: enqueue})
	dc.rsInf.AddHandler(informer.Funcs{
		Add: func(o runtime.Object) { dc.rsChanged(nil, o.(*appsv1.ReplicaSet)) },
		Update: func(old, o runtime.Object) {
			dc.rsChanged(old.(*appsv1.ReplicaSet), o.(*appsv1.ReplicaSet))
		},
		Delete: func(o runtime.Object) { dc.rsChanged(nil, o.(*appsv1.ReplicaSet)) },
	})
	dc.podInf.AddHandler(informer.Funcs{Delete: func(o runtime.Object) { dc.podDeleted(o.(*corev1.Pod)) }})
	return dc
}

// Name is "deployment".
func (dc *Controller) Name() string { return Name }

// Run processes Deployments with workers goroutines until ctx ends.
func (dc *Controller) Run(ctx context.Context, workers int) {
	controller.Work(ctx, dc.queue, workers, dc.sync, dc.log)
}

// deploymentOf returns the key of the Deployment controlling obj's owner
// reference list, or "".
func deploymentOf(namespace string, refs []metav1.OwnerReference) string {
	for _, r := range refs {
		if r.Controller != nil && *r.Controller && r.Kind == "Deployment" && r.APIVersion == appsv1.SchemeGroupVersion.String() {
			return namespace + "/" + r.Name
		}
	}
	return ""
}

func (dc *Controller) rsChanged(old, rs *appsv1.ReplicaSet) {
	key := deploymentOf(rs.Namespace, rs.OwnerReferences)
	if key != "" {
		dc.queue.Add(key)
	}
	if old != nil {
		if ok := deploymentOf(old.Namespace, old.OwnerReferences); ok != "" && ok != key {
			dc.queue.Add(ok)
		}
	}
	if key == "" && rs.DeletionTimestamp == nil {
		// An orphan: a Deployment it matches may adopt it.
		for _, o := range dc.dInf.List() {
			d := o.(*appsv1.Deployment)
			if d.Namespace != rs.Namespace {
				continue
			}
			if sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err == nil && !sel.Empty() && sel.Matches(labels.Set(rs.Labels)) {
				dc.queue.Add(controller.Key(d))
			}
		}
	}
}

// podDeleted wakes a Recreate Deployment waiting for its old pods to go.
func (dc *Controller) podDeleted(pod *corev1.Pod) {
	ref := metav1.GetControllerOf(pod)
	if ref == nil || ref.Kind != "ReplicaSet" {
		return
	}
	rs, _ := dc.rsInf.Get(pod.Namespace, ref.Name).(*appsv1.ReplicaSet)
	if rs == nil || rs.UID != ref.UID {
		return
	}
	key := deploymentOf(rs.Namespace, rs.OwnerReferences)
	if key == "" {
		return
	}
	ns, name := controller.SplitKey(key)
	if d, _ := dc.dInf.Get(ns, name).(*appsv1.Deployment); d != nil && d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		dc.queue.Add(key)
	}
}

// sync reconciles one Deployment.
func (dc *Controller) sync(ctx context.Context, key string) error {
	ns, name := controller.SplitKey(key)
	obj := dc.dInf.Get(ns, name)
	if obj == nil {
		return nil
	}
	d := obj.(*appsv1.Deployment).DeepCopy()
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || sel.Empty() {
		return nil // validation refuses these; there is nothing to select
	}
	if d.DeletionTimestamp != nil {
		return nil
	}
	rss, err := dc.claimReplicaSets(ctx, d, sel)
	if err != nil {
		return err
	}
	if d.Spec.Paused {
		return dc.syncScale(ctx, d, rss)
	}
	if dc.isScalingEvent(d, rss) {
		return dc.syncScale(ctx, d, rss)
	}
	if d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		return dc.rolloutRecreate(ctx, d, rss)
	}
	return dc.rolloutRolling(ctx, d, rss)
}
