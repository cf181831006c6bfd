package replicaset

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"

	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/storage"
)

// errStale: the ReplicaSet in the informer is not the one in etcd (deleted,
// replaced, or being deleted); it must not adopt.
var errStale = fmt.Errorf("replicaset changed since it was read: %w", storage.ErrConflict)

// claimPods returns the active pods rs controls once it has adopted the
// orphans its selector matches and released the pods it controls that its
// selector no longer matches, as Kubernetes' ControllerRefManager.
func (rc *Controller) claimPods(ctx context.Context, rs *appsv1.ReplicaSet, sel labels.Selector) ([]*corev1.Pod, error) {
	var out []*corev1.Pod
	checked := false
	for _, o := range rc.podInf.List() {
		pod := o.(*corev1.Pod)
		if pod.Namespace != rs.Namespace || !isActive(pod) {
			continue
		}
		ref := metav1.GetControllerOf(pod)
		matches := sel.Matches(labels.Set(pod.Labels))
		switch {
		case ref != nil && ref.UID != rs.UID:
			continue // someone else's
		case ref != nil && matches:
			out = append(out, pod)
		case ref != nil:
			if err := rc.release(ctx, rs, pod); err != nil {
				return nil, err
			}
		case matches:
			if !checked {
				// As Kubernetes: read the ReplicaSet from etcd before the
				// first adoption, so a deleted one never adopts.
				cur, err := rc.rsets.Get(ctx, rs.Namespace, rs.Name)
				if storage.IsNotFound(err) || (err == nil && (cur.UID != rs.UID || cur.DeletionTimestamp != nil)) {
					return nil, errStale
				}
				if err != nil {
					return nil, err
				}
				checked = true
			}
			adopted, err := rc.adopt(ctx, rs, sel, pod)
			if err != nil {
				return nil, err
			}
			if adopted != nil {
				out = append(out, adopted)
			}
		}
	}
	return out, nil
}

// adopt makes rs pod's controller; it returns the adopted pod, or nil when
// the pod no longer qualifies.
func (rc *Controller) adopt(ctx context.Context, rs *appsv1.ReplicaSet, sel labels.Selector, pod *corev1.Pod) (*corev1.Pod, error) {
	var gone bool
	next, err := rc.pods.GuaranteedUpdate(ctx, pod.Namespace, pod.Name, func(cur *corev1.Pod) (*corev1.Pod, error) {
		if cur.UID != pod.UID || metav1.GetControllerOf(cur) != nil || !isActive(cur) || !sel.Matches(labels.Set(cur.Labels)) {
			gone = true
			return cur, nil
		}
		next := cur.DeepCopy()
		next.OwnerReferences = append(next.OwnerReferences, metav1.OwnerReference{
			APIVersion: appsv1.SchemeGroupVersion.String(), Kind: "ReplicaSet",
			Name: rs.Name, UID: rs.UID, Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
		})
		return next, rc.c.Admission.Update(ctx, api.Pods, next, cur)
	}, rc.c.Fence...)
	if storage.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("adopt pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	if gone {
		return nil, nil
	}
	return next, nil
}

// release removes rs's controller reference from pod.
func (rc *Controller) release(ctx context.Context, rs *appsv1.ReplicaSet, pod *corev1.Pod) error {
	_, err := rc.pods.GuaranteedUpdate(ctx, pod.Namespace, pod.Name, func(cur *corev1.Pod) (*corev1.Pod, error) {
		next := cur.DeepCopy()
		next.OwnerReferences = nil
		for _, r := range cur.OwnerReferences {
			if r.UID != rs.UID {
				next.OwnerReferences = append(next.OwnerReferences, r)
			}
		}
		return next, rc.c.Admission.Update(ctx, api.Pods, next, cur)
	}, rc.c.Fence...)
	if storage.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("release pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}
