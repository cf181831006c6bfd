package kubelet

import (
	"context"
	"errors"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/shepherd-lab/shepherd/admission"
	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/storage"
)

// removePod finishes a pod's deletion once the kubelet has stopped it, as
// the kubelet's delete with grace period 0 does in Kubernetes: a pod
// without finalizers is removed from etcd; one with finalizers gets
// deletionGracePeriodSeconds 0 and stays until they are removed (the
// write that removes the last one deletes it). A pod replaced under the
// same name, or already gone, is left alone.
func removePod(ctx context.Context, store *storage.Store, adm *admission.Admission, pod *corev1.Pod) error {
	pods := storage.NewTyped[*corev1.Pod](store, api.Pods.Storage)
	uid := pod.UID
	for {
		cur, err := pods.Get(ctx, pod.Namespace, pod.Name)
		if errors.Is(err, storage.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if cur.UID != uid {
			return nil
		}
		if err := adm.Delete(ctx, api.Pods, cur.Namespace, cur.Name, cur); err != nil {
			return err
		}
		rv := cur.ResourceVersion
		if len(cur.Finalizers) == 0 {
			_, err = pods.Delete(ctx, pod.Namespace, pod.Name, &storage.Preconditions{UID: &uid, ResourceVersion: &rv})
		} else if g := cur.DeletionGracePeriodSeconds; g == nil || *g != 0 {
			next := cur.DeepCopy()
			next.DeletionGracePeriodSeconds = ptr.To(int64(0))
			err = pods.Update(ctx, cur, next)
		}
		switch {
		case errors.Is(err, storage.ErrConflict):
			continue // changed meanwhile (a finalizer removed, say): look again
		case errors.Is(err, storage.ErrNotFound):
			return nil
		}
		return err
	}
}
