package api

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BindPod assigns pod to node and marks it scheduled, as a binding does.
// The scheduler's binding transaction and the apiserver's binding
// subresource both use it.
func BindPod(pod *corev1.Pod, node string, now metav1.Time) {
	pod.Spec.NodeName = node
	SetPodCondition(&pod.Status, corev1.PodCondition{
		Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now,
	})
}

// SetPodCondition adds or replaces the condition of c's type, keeping the
// last transition time when the status does not change.
func SetPodCondition(status *corev1.PodStatus, c corev1.PodCondition) {
	for i := range status.Conditions {
		if status.Conditions[i].Type == c.Type {
			if status.Conditions[i].Status == c.Status {
				c.LastTransitionTime = status.Conditions[i].LastTransitionTime
			}
			status.Conditions[i] = c
			return
		}
	}
	status.Conditions = append(status.Conditions, c)
}

// positiveGracePeriod stores a negative terminationGracePeriodSeconds as 1,
// as kube-apiserver's pod strategy does on create and update: the field is
// documented as non-negative, but negative values were once accepted, so
// they are corrected rather than refused ("as soon as possible" is 1 s, as
// for a negative deletion grace period). Pod templates keep what they say;
// the pods made from them are corrected here.
func positiveGracePeriod(spec *corev1.PodSpec) {
	if g := spec.TerminationGracePeriodSeconds; g != nil && *g < 0 {
		one := int64(1)
		spec.TerminationGracePeriodSeconds = &one
	}
}
