package replicaset

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-lab/shepherd/admission"
	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/storage"
)

// DeletePod deletes pod as a DELETE through the apiserver would, with no
// options: a pod running on a node is marked (deletionTimestamp, its
// terminationGracePeriodSeconds) for its kubelet to stop and remove; an
// unscheduled or finished pod, or one with finalizers only, is removed at
// once. It acts only on the pod with pod's UID. A pod already gone is
// storage.ErrNotFound. adm admits the delete.
func DeletePod(ctx context.Context, store *storage.Store, adm *admission.Admission, pod *corev1.Pod, fence ...storage.WriteOption) error {
	pods := storage.NewTyped[*corev1.Pod](store, api.Pods.Storage)
	uid := pod.UID
	for {
		cur, err := pods.Get(ctx, pod.Namespace, pod.Name)
		if err != nil {
			return err
		}
		if cur.UID != uid {
			return storage.ErrNotFound
		}
		if err := adm.Delete(ctx, api.Pods, cur.Namespace, cur.Name, cur); err != nil {
			return err
		}
		grace := gracePeriod(cur)
		if grace == 0 && len(cur.Finalizers) == 0 {
			rv := cur.ResourceVersion
			_, err := pods.Delete(ctx, cur.Namespace, cur.Name, &storage.Preconditions{UID: &uid, ResourceVersion: &rv}, fence...)
			if storage.IsConflict(err) {
				continue
			}
			return err
		}
		if cur.DeletionTimestamp != nil {
			return nil // already being deleted
		}
		next := cur.DeepCopy()
		deadline := metav1.NewTime(time.Now().Add(time.Duration(grace) * time.Second))
		next.DeletionTimestamp = &deadline
		next.DeletionGracePeriodSeconds = &grace
		err = pods.Update(ctx, cur, next, fence...)
		if storage.IsConflict(err) {
			continue
		}
		return err
	}
}

// gracePeriod is how long a deleted pod has to stop: none when nothing runs
// it, else its terminationGracePeriodSeconds (30 by default).
func gracePeriod(pod *corev1.Pod) int64 {
	if pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return 0
	}
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		return *pod.Spec.TerminationGracePeriodSeconds
	}
	return corev1.DefaultTerminationGracePeriodSeconds
}
