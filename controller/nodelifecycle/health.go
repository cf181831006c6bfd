package nodelifecycle

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The conditions a node controller sets to Unknown when the kubelet stops
// posting status, as Kubernetes' node lifecycle controller.
var watchedConditions = []corev1.NodeConditionType{
	corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure,
}

const (
	reasonStatusUnknown  = "NodeStatusUnknown"
	messageStatusUnknown = "Kubelet stopped posting node status."
	reasonNeverUpdated   = "NodeStatusNeverUpdated"
	messageNeverUpdated  = "Kubelet never posted node status."
)

// The taints this controller owns.
var (
	notReadyNoSchedule    = corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule}
	unreachableNoSchedule = corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule}
	notReadyNoExecute     = corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute}
	unreachableNoExecute  = corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute}
)

// readyStatus is the status of node's Ready condition ("" if absent).
func readyStatus(node *corev1.Node) corev1.ConditionStatus {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status
		}
	}
	return ""
}

// markUnknown sets the watched conditions of a node whose kubelet stopped
// reporting to Unknown, keeping their last heartbeat; it reports whether
// anything changed.
func markUnknown(status *corev1.NodeStatus, now time.Time) bool {
	t := metav1.NewTime(now)
	changed := false
	for _, typ := range watchedConditions {
		found := false
		for i := range status.Conditions {
			c := &status.Conditions[i]
			if c.Type != typ {
				continue
			}
			found = true
			if c.Status != corev1.ConditionUnknown {
				c.Status, c.Reason, c.Message = corev1.ConditionUnknown, reasonStatusUnknown, messageStatusUnknown
				c.LastTransitionTime = t
				changed = true
			}
		}
		if !found {
			status.Conditions = append(status.Conditions, corev1.NodeCondition{
				Type: typ, Status: corev1.ConditionUnknown, Reason: reasonNeverUpdated, Message: messageNeverUpdated,
				LastHeartbeatTime: t, LastTransitionTime: t,
			})
			changed = true
		}
	}
	return changed
}

// noExecuteFor is the NoExecute taint a node with the given Ready status
// should carry (nil when Ready).
func noExecuteFor(ready corev1.ConditionStatus) *corev1.Taint {
	switch ready {
	case corev1.ConditionTrue:
		return nil
	case corev1.ConditionFalse:
		return &notReadyNoExecute
	default:
		return &unreachableNoExecute
	}
}

// reconcileTaints brings node's taints in line with its Ready status, all
// but the addition of a NoExecute taint to a node without one, which is
// rate-limited and left to the caller (needNoExecute). As Kubernetes:
// NoSchedule taints follow Ready at once; a NoExecute taint is removed at
// once when the node is Ready again and swapped at once between not-ready
// and unreachable. It reports whether node changed.
func reconcileTaints(node *corev1.Node, now time.Time) (changed, needNoExecute bool) {
	ready := readyStatus(node)
	if ready == "" {
		// Never reported: left alone until its grace period runs out and
		// it is marked Unknown, as in Kubernetes.
		return false, false
	}
	var wantNoSchedule *corev1.Taint
	switch ready {
	case corev1.ConditionFalse:
		wantNoSchedule = &notReadyNoSchedule
	case corev1.ConditionTrue:
	default:
		wantNoSchedule = &unreachableNoSchedule
	}
	wantNoExecute := noExecuteFor(ready)
	var out []corev1.Taint
	hadNoExecute := false
	hasNoSchedule := false
	for _, t := range node.Spec.Taints {
		switch {
		case t.MatchTaint(&notReadyNoSchedule), t.MatchTaint(&unreachableNoSchedule):
			if wantNoSchedule == nil || !t.MatchTaint(wantNoSchedule) || hasNoSchedule {
				changed = true
				continue
			}
			hasNoSchedule = true
		case t.MatchTaint(&notReadyNoExecute), t.MatchTaint(&unreachableNoExecute):
			switch {
			case wantNoExecute == nil || hadNoExecute:
				changed = true
				continue
			case !t.MatchTaint(wantNoExecute):
				// Swapped at once: the node was tainted already.
				t = corev1.Taint{Key: wantNoExecute.Key, Effect: wantNoExecute.Effect, TimeAdded: timePtr(now)}
				changed = true
			}
			hadNoExecute = true
		}
		out = append(out, t)
	}
	if wantNoSchedule != nil && !hasNoSchedule {
		out = append(out, *wantNoSchedule)
		changed = true
	}
	if changed {
		node.Spec.Taints = out
	}
	return changed, wantNoExecute != nil && !hadNoExecute
}

// addNoExecute adds the NoExecute taint node's Ready status calls for, if
// it has none; it reports whether node changed.
func addNoExecute(node *corev1.Node, now time.Time) bool {
	ready := readyStatus(node)
	if ready == "" {
		return false
	}
	want := noExecuteFor(ready)
	if want == nil {
		return false
	}
	for _, t := range node.Spec.Taints {
		if t.MatchTaint(&notReadyNoExecute) || t.MatchTaint(&unreachableNoExecute) {
			return false // reconcileTaints swaps it if it is the wrong one
		}
	}
	node.Spec.Taints = append(node.Spec.Taints, corev1.Taint{Key: want.Key, Effect: want.Effect, TimeAdded: timePtr(now)})
	return true
}

func timePtr(t time.Time) *metav1.Time {
	mt := metav1.NewTime(t)
	return &mt
}
