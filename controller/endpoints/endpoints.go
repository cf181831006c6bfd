// Package endpoints is the endpoints controller: for every Service with a
// selector it keeps a core/v1 Endpoints object of the same name listing the
// addresses of the pods the selector matches, ready and not ready, with the
// service's ports resolved per pod. Services without a selector are left to
// their users, who write their Endpoints themselves; a deleted service's
// Endpoints are deleted.
//
// Shepherd serves no discovery.k8s.io EndpointSlices, so only Endpoints are
// kept. As in Kubernetes 1.33, the Endpoints this controller writes carry
// the label endpoints.kubernetes.io/managed-by=endpoint-controller.
package endpoints

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/shepherd-lab/shepherd/admission"
	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/controller"
	"github.com/shepherd-lab/shepherd/events"
	"github.com/shepherd-lab/shepherd/storage"
	"github.com/shepherd-lab/shepherd/storage/informer"
)

// Name is the controller's name and its queue's.
const Name = "endpoint"

const (
	// lastChangeTriggerTime is when the change the Endpoints reflect
	// happened (Kubernetes' v1.EndpointsLastChangeTriggerTime).
	lastChangeTriggerTime = "endpoints.kubernetes.io/last-change-trigger-time"
	// headlessLabel marks the Endpoints of a service without a cluster IP
	// (v1.IsHeadlessService).
	headlessLabel = "service.kubernetes.io/headless"
	// managedByLabel marks the Endpoints this controller writes, with
	// managedBy as its value.
	managedByLabel = "endpoints.kubernetes.io/managed-by"
	managedBy      = "endpoint-controller"
	// overCapacity says the Endpoints hold only MaxAddresses of the
	// service's addresses (v1.EndpointsOverCapacity).
	overCapacity = "endpoints.kubernetes.io/over-capacity"
)

// Controller keeps the Endpoints of services with a selector.
type Controller struct {
	store     *storage.Store
	services  *controller.Shared
	pods      *controller.Shared
	endpoints *controller.Shared
	queue     *controller.Queue
	events    *events.Recorder
	log       *slog.Logger
	fence     []storage.WriteOption
	admission *admission.Admission
	triggers  triggerTimes
}

// New builds the controller and registers its handlers on c's informers.
func New(c *controller.Context) *Controller {
	log := c.Log
	if log == nil {
		log = slog.Default()
	}
	e := &Controller{
		store:     c.Store,
		services:  c.Informers.For(api.Services),
		pods:      c.Informers.For(api.Pods),
		endpoints: c.Informers.For(api.Endpoints),
		queue:     c.NewQueue(Name),
		events:    c.Events,
		log:       log.With("controller", Name),
		fence:     c.Fence,
		admission: c.Admission,
	}
	e.services.AddHandler(informer.Funcs{
		Add:    func(obj runtime.Object) { e.queue.Add(controller.Key(obj)) },
		Update: func(_, obj runtime.Object) { e.queue.Add(controller.Key(obj)) },
		Delete: func(obj runtime.Object) { e.queue.Add(controller.Key(obj)) },
	})
	e.pods.AddHandler(informer.Funcs{
		Add: func(obj runtime.Object) { e.podChanged(nil, obj.(*corev1.Pod)) },
		Update: func(old, obj runtime.Object) {
			o, p := old.(*corev1.Pod), obj.(*corev1.Pod)
			if labelsEqual(o.Labels, p.Labels) && !endpointsChange(o, p) {
				return
			}
			e.podChanged(o, p)
		},
		Delete: func(obj runtime.Object) { e.podChanged(nil, obj.(*corev1.Pod)) },
	})
	// Endpoints a user deletes are written again.
	e.endpoints.AddHandler(informer.Funcs{
		Delete: func(obj runtime.Object) { e.queue.Add(controller.Key(obj)) },
	})
	return e
}

// Name implements controller.Controller.
func (e *Controller) Name() string { return Name }

// Run syncs services with workers goroutines until ctx ends.
func (e *Controller) Run(ctx context.Context, workers int) {
	for _, s := range []*controller.Shared{e.services, e.pods, e.endpoints} {
		if err := s.WaitSynced(ctx); err != nil {
			return
		}
	}
	// Endpoints whose service went while no controller ran are deleted
	// by their sync, as Kubernetes' checkLeftoverEndpoints arranges; only
	// those this controller wrote, so that Endpoints a user keeps without a
	// service survive a restart.
	for _, obj := range e.endpoints.List() {
		ep := obj.(*corev1.Endpoints)
		if ep.Labels[managedByLabel] == managedBy {
			e.queue.Add(controller.Key(ep))
		}
	}
	controller.Work(ctx, e.queue, workers, e.sync, e.log)
}

// podChanged queues the services in pod's namespace that select it now or
// selected it before (old, when not nil).
func (e *Controller) podChanged(old, pod *corev1.Pod) {
	for _, obj := range e.services.List() {
		svc := obj.(*corev1.Service)
		if svc.Namespace != pod.Namespace || len(svc.Spec.Selector) == 0 {
			continue
		}
		sel := labels.SelectorFromValidatedSet(svc.Spec.Selector)
		if sel.Matches(labels.Set(pod.Labels)) || (old != nil && sel.Matches(labels.Set(old.Labels))) {
			e.queue.Add(controller.Key(svc))
		}
	}
}

// endpointsChange reports whether a pod update changes anything its
// addresses are built from.
func endpointsChange(old, pod *corev1.Pod) bool {
	return old.Status.PodIP != pod.Status.PodIP || len(old.Status.PodIPs) != len(pod.Status.PodIPs) ||
		podReady(old) != podReady(pod) || !podTriggerTime(old).Equal(podTriggerTime(pod)) ||
		old.Status.Phase != pod.Status.Phase ||
		(old.DeletionTimestamp == nil) != (pod.DeletionTimestamp == nil) ||
		old.Spec.NodeName != pod.Spec.NodeName ||
		old.Spec.Hostname != pod.Spec.Hostname || old.Spec.Subdomain != pod.Spec.Subdomain ||
		old.UID != pod.UID
}

func labelsEqual(a, b map[string]string) bool {
	return labels.Equals(labels.Set(a), labels.Set(b))
}

// sync makes key's Endpoints match its service and pods.
func (e *Controller) sync(ctx context.Context, key string) error {
	ns, name := controller.SplitKey(key)
	eps := storage.NewTyped[*corev1.Endpoints](e.store, api.Endpoints.Storage)
	obj := e.services.Get(ns, name)
	if obj == nil {
		e.triggers.forget(key)
		err := e.admission.Delete(ctx, api.Endpoints, ns, name, nil)
		if err == nil {
			_, err = eps.Delete(ctx, ns, name, nil, e.fence...)
		}
		if err != nil && !storage.IsNotFound(err) {
			return fmt.Errorf("delete endpoints %s: %w", key, err)
		}
		return nil
	}
	svc := obj.(*corev1.Service)
	if len(svc.Spec.Selector) == 0 {
		return nil // a user's
	}
	sel := labels.SelectorFromValidatedSet(svc.Spec.Selector)
	var pods []*corev1.Pod
	for _, o := range e.pods.List() {
		p := o.(*corev1.Pod)
		if p.Namespace == ns && sel.Matches(labels.Set(p.Labels)) {
			pods = append(pods, p)
		}
	}
	subsets, truncated := Truncate(Subsets(svc, pods), MaxAddresses)
	trigger, seen := e.triggers.compute(key, svc, pods)
	want := endpointsLabels(svc)

	cur, _ := e.endpoints.Get(ns, name).(*corev1.Endpoints)
	if cur != nil && apiequality.Semantic.DeepEqual(cur.Subsets, subsets) && apiequality.Semantic.DeepEqual(cur.Labels, want) &&
		(cur.Annotations[overCapacity] == "truncated") == truncated {
		e.triggers.commit(key, seen)
		return nil
	}
	var next *corev1.Endpoints
	if cur == nil {
		next = &corev1.Endpoints{}
		next.Namespace, next.Name = ns, name
	} else {
		next = cur.DeepCopy()
	}
	next.Subsets = subsets
	next.Labels = want
	if !trigger.IsZero() {
		if next.Annotations == nil {
			next.Annotations = map[string]string{}
		}
		next.Annotations[lastChangeTriggerTime] = trigger.UTC().Format(time.RFC3339Nano)
	} else {
		delete(next.Annotations, lastChangeTriggerTime)
	}
	if truncated {
		if next.Annotations == nil {
			next.Annotations = map[string]string{}
		}
		next.Annotations[overCapacity] = "truncated"
	} else {
		delete(next.Annotations, overCapacity)
	}
	var err error
	if cur == nil {
		if err = e.admission.Create(ctx, api.Endpoints, next); err == nil {
			err = eps.Create(ctx, next, e.fence...)
		}
	} else if err = e.admission.Update(ctx, api.Endpoints, next, cur); err == nil {
		err = eps.Update(ctx, cur, next, e.fence...)
	}
	if err != nil {
		if !storage.IsConflict(err) && !errors.Is(err, storage.ErrAlreadyExists) && !errors.Is(err, storage.ErrFenced) && ctx.Err() == nil && e.events != nil {
			reason, verb := "FailedToUpdateEndpoint", "update"
			if cur == nil {
				reason, verb = "FailedToCreateEndpoint", "create"
			}
			e.events.Record(api.Endpoints, next, corev1.EventTypeWarning, reason,
				fmt.Sprintf("Failed to %s endpoint %s: %v", verb, key, err))
		}
		return fmt.Errorf("write endpoints %s: %w", key, err)
	}
	e.triggers.commit(key, seen)
	return nil
}

// endpointsLabels are the service's labels, with the headless mark for a
// service without a cluster IP and this controller's mark.
func endpointsLabels(svc *corev1.Service) map[string]string {
	l := make(map[string]string, len(svc.Labels)+2)
	for k, v := range svc.Labels {
		l[k] = v
	}
	if svc.Spec.ClusterIP == corev1.ClusterIPNone || svc.Spec.ClusterIP == "" {
		l[headlessLabel] = ""
	}
	l[managedByLabel] = managedBy
	return l
}
