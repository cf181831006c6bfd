package replicaset

import (
	"context"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/storage"
)

// computeStatus returns rs's status for its active pods at now; manageErr,
// the failure of the last create or delete, sets the ReplicaFailure
// condition, and success clears it.
func computeStatus(rs *appsv1.ReplicaSet, pods []*corev1.Pod, manageErr error, now time.Time) appsv1.ReplicaSetStatus {
	st := appsv1.ReplicaSetStatus{
		Replicas:           int32(len(pods)),
		ObservedGeneration: rs.Generation,
		Conditions:         append([]appsv1.ReplicaSetCondition(nil), rs.Status.Conditions...),
	}
	template := labels.SelectorFromSet(rs.Spec.Template.Labels)
	for _, p := range pods {
		if template.Matches(labels.Set(p.Labels)) {
			st.FullyLabeledReplicas++
		}
		if IsReady(p) {
			st.ReadyReplicas++
		}
		if IsAvailable(p, rs.Spec.MinReadySeconds, now) {
			st.AvailableReplicas++
		}
	}
	var failure *appsv1.ReplicaSetCondition
	for i := range st.Conditions {
		if st.Conditions[i].Type == appsv1.ReplicaSetReplicaFailure {
			failure = &st.Conditions[i]
		}
	}
	switch {
	case manageErr != nil && failure == nil:
		reason := "FailedCreate"
		if int(ptrValue(rs.Spec.Replicas)) < len(pods) {
			reason = "FailedDelete"
		}
		st.Conditions = append(st.Conditions, appsv1.ReplicaSetCondition{
			Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(now), Reason: reason, Message: manageErr.Error(),
		})
	case manageErr == nil && failure != nil:
		kept := st.Conditions[:0]
		for _, c := range st.Conditions {
			if c.Type != appsv1.ReplicaSetReplicaFailure {
				kept = append(kept, c)
			}
		}
		st.Conditions = kept
	}
	if len(st.Conditions) == 0 {
		st.Conditions = nil
	}
	return st
}

// writeStatus writes rs's status, through the status path, when it changed.
func (rc *Controller) writeStatus(ctx context.Context, rs *appsv1.ReplicaSet, pods []*corev1.Pod, manageErr error) error {
	st := computeStatus(rs, pods, manageErr, rc.now())
	if apiequality.Semantic.DeepEqual(st, rs.Status) {
		return nil
	}
	_, err := rc.rsets.GuaranteedUpdate(ctx, rs.Namespace, rs.Name, func(cur *appsv1.ReplicaSet) (*appsv1.ReplicaSet, error) {
		if cur.UID != rs.UID {
			return nil, errStale
		}
		next := cur.DeepCopy()
		next.Status = st
		if err := rc.c.Admission.UpdateStatus(ctx, api.ReplicaSets, next, cur); err != nil {
			return nil, err
		}
		return next, nil
	}, rc.c.Fence...)
	if storage.IsNotFound(err) || errors.Is(err, errStale) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("write status of replicaset %s/%s: %w", rs.Namespace, rs.Name, err)
	}
	return nil
}
