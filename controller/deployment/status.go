package deployment

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/controller"
	"github.com/shepherd-lab/shepherd/storage"
)

// Reasons of the Progressing and Available conditions, as Kubernetes'
// (kubectl rollout status reads ProgressDeadlineExceeded).
const (
	reasonNewRSCreated   = "NewReplicaSetCreated"
	reasonFoundNewRS     = "FoundNewReplicaSet"
	reasonRSUpdated      = "ReplicaSetUpdated"
	reasonNewRSAvailable = "NewReplicaSetAvailable"
	reasonTimedOut       = "ProgressDeadlineExceeded"
	reasonPaused         = "DeploymentPaused"
	reasonResumed        = "DeploymentResumed"
	reasonMinAvailable   = "MinimumReplicasAvailable"
	reasonMinUnavailable = "MinimumReplicasUnavailable"
)

func condition(conds []appsv1.DeploymentCondition, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}

func newCondition(t appsv1.DeploymentConditionType, s corev1.ConditionStatus, reason, msg string, now time.Time) appsv1.DeploymentCondition {
	ts := metav1.NewTime(now)
	return appsv1.DeploymentCondition{Type: t, Status: s, Reason: reason, Message: msg, LastUpdateTime: ts, LastTransitionTime: ts}
}

// setCondition replaces the condition of c's type, keeping its transition
// time when the status stays the same, and doing nothing when only the
// times would change.
func setCondition(st *appsv1.DeploymentStatus, c appsv1.DeploymentCondition) {
	cur := condition(st.Conditions, c.Type)
	if cur != nil && cur.Status == c.Status && cur.Reason == c.Reason && cur.Message == c.Message {
		return
	}
	if cur != nil && cur.Status == c.Status {
		c.LastTransitionTime = cur.LastTransitionTime
	}
	removeCondition(st, c.Type)
	st.Conditions = append(st.Conditions, c)
}

func removeCondition(st *appsv1.DeploymentStatus, t appsv1.DeploymentConditionType) {
	kept := st.Conditions[:0:0]
	for _, c := range st.Conditions {
		if c.Type != t {
			kept = append(kept, c)
		}
	}
	st.Conditions = kept
}

// calculateStatus is d's status from its ReplicaSets', with the Available
// condition; other conditions are carried over.
func calculateStatus(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, all []*appsv1.ReplicaSet) appsv1.DeploymentStatus {
	available := sum(all, func(rs *appsv1.ReplicaSet) int32 { return rs.Status.AvailableReplicas })
	st := appsv1.DeploymentStatus{
		ObservedGeneration:  d.Generation,
		Replicas:            sum(all, func(rs *appsv1.ReplicaSet) int32 { return rs.Status.Replicas }),
		ReadyReplicas:       sum(all, func(rs *appsv1.ReplicaSet) int32 { return rs.Status.ReadyReplicas }),
		AvailableReplicas:   available,
		UnavailableReplicas: max(0, sum(all, specReplicas)-available),
		CollisionCount:      d.Status.CollisionCount,
		Conditions:          append([]appsv1.DeploymentCondition(nil), d.Status.Conditions...),
	}
	if newRS != nil {
		st.UpdatedReplicas = newRS.Status.Replicas
	}
	return st
}

// complete: every replica is updated and available, and the status
// reflects the current spec.
func complete(d *appsv1.Deployment, st *appsv1.DeploymentStatus) bool {
	want := replicas(d.Spec.Replicas)
	return st.UpdatedReplicas == want && st.Replicas == want && st.AvailableReplicas == want &&
		st.ObservedGeneration >= d.Generation
}

// progressing: the rollout moved since the status was last written.
func progressing(d *appsv1.Deployment, st *appsv1.DeploymentStatus) bool {
	old := d.Status
	return st.UpdatedReplicas > old.UpdatedReplicas ||
		st.Replicas-st.UpdatedReplicas < old.Replicas-old.UpdatedReplicas ||
		st.ReadyReplicas > old.ReadyReplicas || st.AvailableReplicas > old.AvailableReplicas
}

func hasProgressDeadline(d *appsv1.Deployment) bool {
	return d.Spec.ProgressDeadlineSeconds != nil && *d.Spec.ProgressDeadlineSeconds != math.MaxInt32
}

// timedOut: no progress for progressDeadlineSeconds.
func timedOut(d *appsv1.Deployment, st *appsv1.DeploymentStatus, now time.Time) bool {
	c := condition(st.Conditions, appsv1.DeploymentProgressing)
	if !hasProgressDeadline(d) || c == nil || c.Reason == reasonNewRSAvailable {
		return false
	}
	if c.Reason == reasonTimedOut {
		return true
	}
	return c.LastUpdateTime.Add(time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second).Before(now)
}

// syncStatus writes d's status; with rollout set it also judges progress
// (the Progressing condition) as a rollout step does.
func (dc *Controller) syncStatus(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet, rollout bool) error {
	all := append(append([]*appsv1.ReplicaSet(nil), old...), newRS)
	st := calculateStatus(d, newRS, all)
	now := dc.now()
	minAvailable := replicas(d.Spec.Replicas) - maxUnavailable(d)
	if st.AvailableReplicas >= minAvailable {
		setCondition(&st, newCondition(appsv1.DeploymentAvailable, corev1.ConditionTrue, reasonMinAvailable, "Deployment has minimum availability.", now))
	} else {
		setCondition(&st, newCondition(appsv1.DeploymentAvailable, corev1.ConditionFalse, reasonMinUnavailable, "Deployment does not have minimum availability.", now))
	}
	cur := condition(st.Conditions, appsv1.DeploymentProgressing)
	switch {
	case !hasProgressDeadline(d):
		removeCondition(&st, appsv1.DeploymentProgressing)
	case d.Spec.Paused:
		if cur == nil || cur.Reason != reasonPaused {
			setCondition(&st, newCondition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, reasonPaused, "Deployment is paused", now))
		}
	case cur != nil && cur.Reason == reasonPaused:
		setCondition(&st, newCondition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, reasonResumed, "Deployment is resumed", now))
	case rollout && newRS != nil && !(st.Replicas == st.UpdatedReplicas && cur != nil && cur.Reason == reasonNewRSAvailable):
		switch {
		case complete(d, &st):
			setCondition(&st, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonNewRSAvailable,
				fmt.Sprintf("ReplicaSet %q has successfully progressed.", newRS.Name), now))
		case progressing(d, &st):
			c := newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonRSUpdated,
				fmt.Sprintf("ReplicaSet %q is progressing.", newRS.Name), now)
			if cur != nil && cur.Status == corev1.ConditionTrue {
				c.LastTransitionTime = cur.LastTransitionTime
			}
			// Progress moves the deadline: the update time always changes.
			removeCondition(&st, appsv1.DeploymentProgressing)
			st.Conditions = append(st.Conditions, c)
		case timedOut(d, &st, now):
			setCondition(&st, newCondition(appsv1.DeploymentProgressing, corev1.ConditionFalse, reasonTimedOut,
				fmt.Sprintf("ReplicaSet %q has timed out progressing.", newRS.Name), now))
		}
	}
	if rollout {
		dc.requeueForDeadline(d, &st, now)
	}
	if apiequality.Semantic.DeepEqual(st, d.Status) {
		return nil
	}
	return dc.writeStatus(ctx, d, st)
}

// requeueForDeadline looks at d again when its progress deadline passes.
func (dc *Controller) requeueForDeadline(d *appsv1.Deployment, st *appsv1.DeploymentStatus, now time.Time) {
	c := condition(st.Conditions, appsv1.DeploymentProgressing)
	if !hasProgressDeadline(d) || c == nil || c.Status != corev1.ConditionTrue || c.Reason == reasonNewRSAvailable || complete(d, st) {
		return
	}
	after := c.LastUpdateTime.Add(time.Duration(*d.Spec.ProgressDeadlineSeconds)*time.Second).Sub(now) + time.Second
	dc.queue.AddAfter(controller.Key(d), after)
}

// writeStatus writes st as d's status through the status path.
func (dc *Controller) writeStatus(ctx context.Context, d *appsv1.Deployment, st appsv1.DeploymentStatus) error {
	out, err := dc.deps.GuaranteedUpdate(ctx, d.Namespace, d.Name, func(cur *appsv1.Deployment) (*appsv1.Deployment, error) {
		if cur.UID != d.UID {
			return nil, errStale
		}
		next := cur.DeepCopy()
		next.Status = st
		if err := dc.c.Admission.UpdateStatus(ctx, api.Deployments, next, cur); err != nil {
			return nil, err
		}
		return next, nil
	}, dc.c.Fence...)
	if storage.IsNotFound(err) || errors.Is(err, errStale) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("write status of deployment %s/%s: %w", d.Namespace, d.Name, err)
	}
	d.Status, d.ResourceVersion = out.Status, out.ResourceVersion
	return nil
}
