package garbagecollector

import (
	"context"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/shepherd-lab/shepherd/admission"
	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/storage"
)

// Delete deletes the named object of res as a DELETE through the apiserver
// with the given propagation policy would: at once when nothing holds it;
// otherwise by marking it (deletionTimestamp, the finalizer the policy asks
// for, a bound pod's grace period) so that its finalizers and its kubelet
// finish the job. uid, when set, is a precondition: an object recreated
// under the same name is left alone. It reports whether the object is gone
// (a missing object is gone). adm admits the delete; fence goes with
// every write.
func Delete(ctx context.Context, store *storage.Store, adm *admission.Admission, res *api.Resource, namespace, name string, uid types.UID, policy metav1.DeletionPropagation, fence []storage.WriteOption) (bool, error) {
	for {
		cur, err := store.Get(ctx, res.Storage, namespace, name)
		if storage.IsNotFound(err) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		m, _ := meta.Accessor(cur)
		if uid != "" && m.GetUID() != uid {
			return true, nil // the object we meant is gone
		}
		if err := adm.Delete(ctx, res, namespace, name, cur); err != nil {
			return false, err
		}
		next := cur.DeepCopyObject()
		if !mark(next, policy) {
			curUID, rv := m.GetUID(), m.GetResourceVersion()
			_, err := store.Delete(ctx, res.Storage, namespace, name, &storage.Preconditions{UID: &curUID, ResourceVersion: &rv}, fence...)
			switch {
			case storage.IsConflict(err):
				continue // changed under us: decide again
			case storage.IsNotFound(err):
				return true, nil
			}
			return err == nil, err
		}
		err = store.Update(ctx, res.Storage, cur, next, fence...)
		if storage.IsConflict(err) {
			continue
		}
		if err != nil {
			return false, err
		}
		return false, nil
	}
}

// mark decides how obj is deleted, as the apiserver does: it returns false
// when obj can be removed at once; otherwise it marks obj.
func mark(obj runtime.Object, policy metav1.DeletionPropagation) bool {
	m, _ := meta.Accessor(obj)
	finalizers := m.GetFinalizers()
	switch {
	case policy == metav1.DeletePropagationOrphan && !slices.Contains(finalizers, metav1.FinalizerOrphanDependents):
		finalizers = append(finalizers, metav1.FinalizerOrphanDependents)
	case policy == metav1.DeletePropagationForeground && !slices.Contains(finalizers, metav1.FinalizerDeleteDependents):
		finalizers = append(finalizers, metav1.FinalizerDeleteDependents)
	}
	grace := gracePeriod(obj)
	pending := len(finalizers) > 0
	if ns, ok := obj.(*corev1.Namespace); ok && len(ns.Spec.Finalizers) > 0 {
		pending = true
		ns.Status.Phase = corev1.NamespaceTerminating
	}
	if !pending && grace == 0 {
		return false
	}
	m.SetFinalizers(finalizers)
	deadline := metav1.NewTime(time.Now().Add(time.Duration(grace) * time.Second))
	if old := m.GetDeletionTimestamp(); old == nil || deadline.Before(old) {
		m.SetDeletionTimestamp(&deadline)
	}
	if old := m.GetDeletionGracePeriodSeconds(); old == nil || grace < *old {
		m.SetDeletionGracePeriodSeconds(&grace)
	}
	return true
}

// gracePeriod is how long obj has to shut down: a pod on a node its
// terminationGracePeriodSeconds (30 by default), anything else none.
func gracePeriod(obj runtime.Object) int64 {
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return 0
	}
	grace := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		grace = *pod.Spec.TerminationGracePeriodSeconds
	}
	if cur := pod.DeletionGracePeriodSeconds; cur != nil && *cur < grace {
		grace = *cur
	}
	return grace
}

// Finish removes obj when it is being deleted and nothing holds it any
// longer (no finalizers, no grace period left): the write that removed its
// last finalizer completes its deletion, as the apiserver does after such
// a write. A concurrent write makes it judge the stored state again.
func Finish(ctx context.Context, store *storage.Store, res *api.Resource, obj runtime.Object, fence ...storage.WriteOption) error {
	for {
		m, err := meta.Accessor(obj)
		if err != nil || m.GetDeletionTimestamp() == nil || len(m.GetFinalizers()) > 0 {
			return err
		}
		if ns, ok := obj.(*corev1.Namespace); ok && len(ns.Spec.Finalizers) > 0 {
			return nil
		}
		if g := m.GetDeletionGracePeriodSeconds(); g != nil && *g > 0 {
			return nil
		}
		uid, rv := m.GetUID(), m.GetResourceVersion()
		_, err = store.Delete(ctx, res.Storage, m.GetNamespace(), m.GetName(), &storage.Preconditions{UID: &uid, ResourceVersion: &rv}, fence...)
		if !storage.IsConflict(err) {
			if storage.IsNotFound(err) {
				return nil
			}
			return err
		}
		if obj, err = store.Get(ctx, res.Storage, m.GetNamespace(), m.GetName()); storage.IsNotFound(err) {
			return nil
		} else if err != nil {
			return err
		}
		if cm, _ := meta.Accessor(obj); cm.GetUID() != uid {
			return nil
		}
	}
}
