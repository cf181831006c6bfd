// Package replicaset is the ReplicaSet controller: it keeps spec.replicas
// pods of each ReplicaSet running, adopting orphan pods its selector
// matches and releasing owned pods it no longer matches, and reports the
// counts in the ReplicaSet's status.
//
// Every create and delete it issues is recorded in its Expectations until
// the pod informer shows it; a ReplicaSet with pending expectations is not
// scaled again, so a slow watch never causes extra or missing pods.
package replicaset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/controller"
	"github.com/shepherd-lab/shepherd/storage"
	"github.com/shepherd-lab/shepherd/storage/informer"
)

// Name is the controller's name.
const Name = "replicaset"

// burstReplicas bounds the creates or deletes of one sync, as Kubernetes.
const burstReplicas = 500

// Controller is the ReplicaSet controller.
type Controller struct {
	c        *controller.Context
	log      *slog.Logger
	queue    *controller.Queue
	rsInf    *controller.Shared
	podInf   *controller.Shared
	rsets    storage.Typed[*appsv1.ReplicaSet]
	pods     storage.Typed[*corev1.Pod]
	expected *Expectations
	now      func() time.Time
}

var _ controller.Controller = (*Controller)(nil)

// New builds the controller and registers its informer handlers.
func New(c *controller.Context) *Controller {
	rc := &Controller{
		c:        c,
		log:      c.Log.With("controller", Name),
		queue:    c.NewQueue(Name),
		rsInf:    c.Informers.For(api.ReplicaSets),
		podInf:   c.Informers.For(api.Pods),
		rsets:    storage.NewTyped[*appsv1.ReplicaSet](c.Store, api.ReplicaSets.Storage),
		pods:     storage.NewTyped[*corev1.Pod](c.Store, api.Pods.Storage),
		expected: NewExpectations(),
		now:      time.Now,
	}
	rc.rsInf.AddHandler(informer.Funcs{
		Add:    func(o runtime.Object) { rc.queue.Add(controller.Key(o)) },
		Update: func(_, o runtime.Object) { rc.queue.Add(controller.Key(o)) },
		Delete: func(o runtime.Object) {
			rc.expected.Forget(controller.Key(o))
			rc.queue.Add(controller.Key(o))
		},
	})
	rc.podInf.AddHandler(informer.Funcs{
		Add:    func(o runtime.Object) { rc.podAdded(o.(*corev1.Pod)) },
		Update: func(old, o runtime.Object) { rc.podUpdated(old.(*corev1.Pod), o.(*corev1.Pod)) },
		Delete: func(o runtime.Object) { rc.podDeleted(o.(*corev1.Pod)) },
	})
	return rc
}

// Name is "replicaset".
func (rc *Controller) Name() string { return Name }

// Run processes ReplicaSets with workers goroutines until ctx ends.
func (rc *Controller) Run(ctx context.Context, workers int) {
	controller.Work(ctx, rc.queue, workers, rc.sync, rc.log)
}

// ownerKey returns the key of the ReplicaSet controlling pod, or "".
func ownerKey(pod *corev1.Pod) string {
	ref := metav1.GetControllerOf(pod)
	if ref == nil || ref.Kind != "ReplicaSet" || ref.APIVersion != appsv1.SchemeGroupVersion.String() {
		return ""
	}
	return pod.Namespace + "/" + ref.Name
}

func (rc *Controller) podAdded(pod *corev1.Pod) {
	if key := ownerKey(pod); key != "" {
		rc.expected.Created(key, pod.Name)
		if pod.DeletionTimestamp != nil {
			rc.expected.Deleted(key, pod.Name)
		}
		rc.queue.Add(key)
		return
	}
	rc.enqueueMatching(pod)
}

func (rc *Controller) podUpdated(old, pod *corev1.Pod) {
	key, oldKey := ownerKey(pod), ownerKey(old)
	if key != "" {
		rc.expected.Created(key, pod.Name)
		if pod.DeletionTimestamp != nil {
			rc.expected.Deleted(key, pod.Name)
		}
		rc.queue.Add(key)
	}
	if oldKey != "" && oldKey != key {
		rc.queue.Add(oldKey)
	}
	if key == "" && (!labels.Equals(old.Labels, pod.Labels) || oldKey != "") {
		rc.enqueueMatching(pod)
	}
}

func (rc *Controller) podDeleted(pod *corev1.Pod) {
	if key := ownerKey(pod); key != "" {
		rc.expected.Created(key, pod.Name)
		rc.expected.Deleted(key, pod.Name)
		rc.queue.Add(key)
	}
}

// enqueueMatching queues the ReplicaSets whose selector matches an orphan
// pod: one of them may adopt it.
func (rc *Controller) enqueueMatching(pod *corev1.Pod) {
	if !isActive(pod) {
		return
	}
	for _, o := range rc.rsInf.List() {
		rs := o.(*appsv1.ReplicaSet)
		if rs.Namespace != pod.Namespace {
			continue
		}
		if sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector); err == nil && !sel.Empty() && sel.Matches(labels.Set(pod.Labels)) {
			rc.queue.Add(controller.Key(rs))
		}
	}
}

// sync brings one ReplicaSet's pods to its spec and writes its status.
func (rc *Controller) sync(ctx context.Context, key string) error {
	ns, name := controller.SplitKey(key)
	obj := rc.rsInf.Get(ns, name)
	if obj == nil {
		rc.expected.Forget(key)
		return nil
	}
	rs := obj.(*appsv1.ReplicaSet)
	if rs.DeletionTimestamp != nil {
		return nil
	}
	sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil || sel.Empty() {
		return nil // invalid selectors are refused by validation; nothing to do
	}
	// Decide before reading the pods: an expectation observed after the
	// read would otherwise let a stale view act.
	satisfied := rc.expected.Satisfied(key)
	pods, err := rc.claimPods(ctx, rs, sel)
	if err != nil {
		return err
	}
	var manageErr error
	if satisfied {
		manageErr = rc.manage(ctx, rs, pods)
	}
	if err := rc.writeStatus(ctx, rs, pods, manageErr); err != nil {
		return errors.Join(manageErr, err)
	}
	if manageErr == nil && rs.Spec.MinReadySeconds > 0 {
		// Pods become available with time, not with an event.
		for _, p := range pods {
			if IsReady(p) && !IsAvailable(p, rs.Spec.MinReadySeconds, rc.now()) {
				rc.queue.AddAfter(key, time.Duration(rs.Spec.MinReadySeconds)*time.Second)
				break
			}
		}
	}
	return manageErr
}

// manage creates or deletes pods so that len(pods) becomes spec.replicas.
func (rc *Controller) manage(ctx context.Context, rs *appsv1.ReplicaSet, pods []*corev1.Pod) error {
	key := controller.Key(rs)
	want := int(ptrValue(rs.Spec.Replicas))
	diff := len(pods) - want
	switch {
	case diff < 0:
		n := min(-diff, burstReplicas)
		if ok, err := rc.namespaceOpen(ctx, rs.Namespace); err != nil || !ok {
			return err
		}
		batch := make([]*corev1.Pod, n)
		names := make([]string, n)
		for i := range batch {
			batch[i] = newPod(rs)
			names[i] = batch[i].Name
		}
		rc.expected.Expect(key, names, nil)
		return rc.createPods(ctx, rs, batch)
	case diff > 0:
		victims := podsToDelete(pods, min(diff, burstReplicas))
		names := make([]string, len(victims))
		for i, p := range victims {
			names[i] = p.Name
		}
		rc.expected.Expect(key, nil, names)
		return rc.deletePods(ctx, rs, victims)
	}
	return nil
}

// createPods creates pods in slow-start batches, stopping at the first
// batch with a failure; the pods never attempted are no longer expected.
func (rc *Controller) createPods(ctx context.Context, rs *appsv1.ReplicaSet, pods []*corev1.Pod) error {
	key := controller.Key(rs)
	var firstErr error
	for _, size := range slowStartBatches(len(pods)) {
		batch := pods[:size]
		pods = pods[size:]
		if firstErr != nil {
			for _, p := range batch {
				rc.expected.Created(key, p.Name)
			}
			continue
		}
		errs := make(chan error, size)
		for _, p := range batch {
			go func() { errs <- rc.createPod(ctx, rs, p) }()
		}
		for range batch {
			if err := <-errs; err != nil && firstErr == nil {
				firstErr = err
			}
		}
	}
	return firstErr
}

func (rc *Controller) createPod(ctx context.Context, rs *appsv1.ReplicaSet, pod *corev1.Pod) error {
	key := controller.Key(rs)
	expected := pod.Name
	err := rc.c.Admission.Create(ctx, api.Pods, pod)
	if err == nil {
		err = rc.pods.Create(ctx, pod, rc.c.Fence...)
		if errors.Is(err, storage.ErrAlreadyExists) {
			// A random name taken: Kubernetes' clients retry too.
			pod.Name, pod.ResourceVersion = GenerateName(pod.GenerateName), ""
			rc.expected.Created(key, expected)
			rc.expected.addCreate(key, pod.Name)
			expected = pod.Name
			err = rc.pods.Create(ctx, pod, rc.c.Fence...)
		}
	}
	if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
		// As Kubernetes: nothing can be created in a namespace being
		// deleted, and the namespace controller is emptying it.
		rc.expected.Created(key, expected)
		return nil
	}
	if err != nil {
		rc.expected.Created(key, expected)
		rc.c.Events.Record(api.ReplicaSets, rs, corev1.EventTypeWarning, "FailedCreate", fmt.Sprintf("Error creating: %v", err))
		return fmt.Errorf("create pod for replicaset %s: %w", key, err)
	}
	rc.c.Events.Record(api.ReplicaSets, rs, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: "+pod.Name)
	return nil
}

func (rc *Controller) deletePods(ctx context.Context, rs *appsv1.ReplicaSet, pods []*corev1.Pod) error {
	key := controller.Key(rs)
	errs := make(chan error, len(pods))
	for _, p := range pods {
		go func() {
			err := DeletePod(ctx, rc.c.Store, rc.c.Admission, p, rc.c.Fence...)
			if err != nil {
				rc.expected.Deleted(key, p.Name)
				if storage.IsNotFound(err) {
					err = nil
				} else {
					rc.c.Events.Record(api.ReplicaSets, rs, corev1.EventTypeWarning, "FailedDelete", fmt.Sprintf("Error deleting: %v", err))
					err = fmt.Errorf("delete pod %s/%s: %w", p.Namespace, p.Name, err)
				}
			} else {
				rc.c.Events.Record(api.ReplicaSets, rs, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: "+p.Name)
			}
			errs <- err
		}()
	}
	var all []error
	for range pods {
		all = append(all, <-errs)
	}
	return errors.Join(all...)
}

// namespaceOpen: pods may be created in the namespace (it exists and is not
// terminating), as the apiserver's namespace lifecycle admission requires.
func (rc *Controller) namespaceOpen(ctx context.Context, name string) (bool, error) {
	obj, err := rc.c.Store.Get(ctx, api.Namespaces.Storage, "", name)
	if storage.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	ns := obj.(*corev1.Namespace)
	return ns.DeletionTimestamp == nil && ns.Status.Phase != corev1.NamespaceTerminating, nil
}

func ptrValue(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}
