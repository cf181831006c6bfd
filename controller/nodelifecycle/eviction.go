package nodelifecycle

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// tolerates reports whether tol tolerates taint, by Kubernetes' rules: an
// empty effect matches every effect, an empty key with Exists every key.
func tolerates(tol corev1.Toleration, taint corev1.Taint) bool {
	if tol.Effect != "" && tol.Effect != taint.Effect {
		return false
	}
	if tol.Key != "" && tol.Key != taint.Key {
		return false
	}
	switch tol.Operator {
	case corev1.TolerationOpExists:
		return true
	case "", corev1.TolerationOpEqual:
		return tol.Value == taint.Value
	}
	return false
}

// evictionTime says when a pod with tolerations must leave a node with
// taints: evict is false when no NoExecute taint requires it (none, or all
// tolerated forever); otherwise the pod is evicted at at. An untolerated
// NoExecute taint evicts at once (at is the zero time); a tolerated one
// evicts tolerationSeconds (the smallest among the matching tolerations)
// after the taint was added (now when it carries no timeAdded).
func evictionTime(taints []corev1.Taint, tolerations []corev1.Toleration, now time.Time) (at time.Time, evict bool) {
	for _, taint := range taints {
		if taint.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		forever := false
		var secs *int64
		for _, tol := range tolerations {
			if !tolerates(tol, taint) {
				continue
			}
			if tol.TolerationSeconds == nil {
				forever = true
				continue
			}
			if secs == nil || *tol.TolerationSeconds < *secs {
				secs = tol.TolerationSeconds
			}
		}
		var deadline time.Time
		switch {
		case secs != nil:
			// A bounded toleration wins over an unbounded one, as in
			// Kubernetes (the minimum over the tolerations used).
			added := now
			if taint.TimeAdded != nil {
				added = taint.TimeAdded.Time
			}
			deadline = added.Add(time.Duration(max(*secs, 0)) * time.Second)
		case forever:
			continue
		default:
			return time.Time{}, true
		}
		if !evict || deadline.Before(at) {
			at, evict = deadline, true
		}
	}
	return at, evict
}

// Kubernetes' DisruptionTarget reason for pods the taint manager deletes.
const reasonDeletionByTaintManager = "DeletionByTaintManager"

// markEvicted marks pod deleted as the apiserver does for a DELETE with
// default options: a pod on a node, not yet terminal, gets a deletion
// timestamp its grace period away (terminationGracePeriodSeconds, 30 by
// default) for its kubelet to act on; it also gets the DisruptionTarget
// condition Kubernetes' taint manager sets. remove is true when the pod
// should instead be removed from storage at once (nothing runs it, no
// finalizers). A pod marked already is left as it is (changed false).
func markEvicted(pod *corev1.Pod, now time.Time) (changed, remove bool) {
	if pod.DeletionTimestamp != nil {
		return false, false
	}
	grace := int64(0)
	if pod.Spec.NodeName != "" && pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed {
		grace = corev1.DefaultTerminationGracePeriodSeconds
		if pod.Spec.TerminationGracePeriodSeconds != nil {
			grace = *pod.Spec.TerminationGracePeriodSeconds
		}
	}
	if grace == 0 && len(pod.Finalizers) == 0 {
		return false, true
	}
	deadline := metav1.NewTime(now.Add(time.Duration(grace) * time.Second))
	pod.DeletionTimestamp = &deadline
	pod.DeletionGracePeriodSeconds = &grace
	setDisruptionTarget(&pod.Status, metav1.NewTime(now))
	return true, false
}

func setDisruptionTarget(st *corev1.PodStatus, now metav1.Time) {
	cond := corev1.PodCondition{
		Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: reasonDeletionByTaintManager,
		Message: "Taint manager: deleting due to NoExecute taint", LastTransitionTime: now,
	}
	for i, c := range st.Conditions {
		if c.Type == cond.Type {
			if c.Status == cond.Status {
				cond.LastTransitionTime = c.LastTransitionTime
			}
			st.Conditions[i] = cond
			return
		}
	}
	st.Conditions = append(st.Conditions, cond)
}
