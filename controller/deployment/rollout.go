package deployment

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// rolloutRolling takes one step of a rolling update: grow the new
// ReplicaSet within maxSurge, else shrink the old ones within
// maxUnavailable, else, once complete, trim the history.
func (dc *Controller) rolloutRolling(ctx context.Context, d *appsv1.Deployment, rss []*appsv1.ReplicaSet) error {
	newRS, old, err := dc.getReplicaSets(ctx, d, rss, true)
	if err != nil {
		return err
	}
	all := append(append([]*appsv1.ReplicaSet(nil), old...), newRS)
	want := replicas(d.Spec.Replicas)
	// Always through scaleRS: it also keeps the replica annotations current.
	cur, size := specReplicas(newRS), want
	if cur < want {
		size = newRSReplicas(d, all, newRS)
	}
	if _, err := dc.scaleRS(ctx, d, newRS, size); err != nil {
		return err
	}
	if size != cur {
		return dc.syncStatus(ctx, d, newRS, old, true)
	}
	byName := map[string]*appsv1.ReplicaSet{}
	for _, rs := range old {
		byName[rs.Name] = rs
	}
	scaledDown := false
	for name, size := range oldScaleDowns(d, old, newRS) {
		ok, err := dc.scaleRS(ctx, d, byName[name], size)
		if err != nil {
			return err
		}
		scaledDown = scaledDown || ok
	}
	if scaledDown {
		return dc.syncStatus(ctx, d, newRS, old, true)
	}
	st := calculateStatus(d, newRS, all)
	if complete(d, &st) {
		if err := dc.cleanup(ctx, d, old); err != nil {
			return err
		}
	}
	return dc.syncStatus(ctx, d, newRS, old, true)
}

// rolloutRecreate scales every old ReplicaSet to zero, waits for their pods
// to be gone, then scales the new one up.
func (dc *Controller) rolloutRecreate(ctx context.Context, d *appsv1.Deployment, rss []*appsv1.ReplicaSet) error {
	newRS, old, err := dc.getReplicaSets(ctx, d, rss, false)
	if err != nil {
		return err
	}
	scaledDown := false
	for _, rs := range old {
		if specReplicas(rs) == 0 {
			continue
		}
		ok, err := dc.scaleRS(ctx, d, rs, 0)
		if err != nil {
			return err
		}
		scaledDown = scaledDown || ok
	}
	if scaledDown || dc.oldPodsRunning(old) {
		return dc.syncStatus(ctx, d, newRS, old, true)
	}
	if newRS == nil {
		if newRS, old, err = dc.getReplicaSets(ctx, d, rss, true); err != nil {
			return err
		}
	}
	if _, err := dc.scaleRS(ctx, d, newRS, replicas(d.Spec.Replicas)); err != nil {
		return err
	}
	all := append(append([]*appsv1.ReplicaSet(nil), old...), newRS)
	st := calculateStatus(d, newRS, all)
	if complete(d, &st) {
		if err := dc.cleanup(ctx, d, old); err != nil {
			return err
		}
	}
	return dc.syncStatus(ctx, d, newRS, old, true)
}

// oldPodsRunning: a pod of an old ReplicaSet still exists and is not
// finished (a terminating pod still runs).
func (dc *Controller) oldPodsRunning(old []*appsv1.ReplicaSet) bool {
	uids := map[string]bool{}
	for _, rs := range old {
		if rs.Status.Replicas > 0 {
			return true
		}
		uids[string(rs.UID)] = true
	}
	if len(uids) == 0 {
		return false
	}
	for _, o := range dc.podInf.List() {
		pod := o.(*corev1.Pod)
		ref := metav1.GetControllerOf(pod)
		if ref == nil || !uids[string(ref.UID)] {
			continue
		}
		if pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed {
			return true
		}
	}
	return false
}
