package admission

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/shepherd-lab/shepherd/api"
)

// systemPriorityClasses are the PriorityClasses every Kubernetes cluster
// has. Shepherd serves no PriorityClass API yet, so they are the only ones.
var systemPriorityClasses = map[string]int32{
	"system-cluster-critical": 2000000000,
	"system-node-critical":    2000001000,
}

// priority is Kubernetes' Priority plugin: a new pod's spec.priority and
// spec.preemptionPolicy come from its priorityClassName (no class: 0 and
// PreemptLowerPriority, as in a cluster without a default class); a pod
// naming a class that does not exist, or giving values that differ from
// its class's, is refused (403). An update keeps the stored values, which
// validation forbids changing.
func priority(_ context.Context, _ Cluster, a *Attributes) error {
	if a.Resource != api.Pods || a.Subresource != "" {
		return nil
	}
	pod, ok := a.Object.(*corev1.Pod)
	if !ok {
		return nil
	}
	switch a.Operation {
	case Update:
		if old, ok := a.OldObject.(*corev1.Pod); ok {
			if pod.Spec.Priority == nil {
				pod.Spec.Priority = old.Spec.Priority
			}
			if pod.Spec.PreemptionPolicy == nil {
				pod.Spec.PreemptionPolicy = old.Spec.PreemptionPolicy
			}
		}
	case Create:
		var value int32
		policy := corev1.PreemptLowerPriority
		if name := pod.Spec.PriorityClassName; name != "" {
			v, ok := systemPriorityClasses[name]
			if !ok {
				return a.forbidden(fmt.Errorf("no PriorityClass with name %v was found", name))
			}
			value = v
		}
		if p := pod.Spec.Priority; p != nil && *p != value {
			return a.forbidden(fmt.Errorf("the integer value of priority (%d) must not be provided in pod spec; priority admission controller computed %d from the given PriorityClass name", *p, value))
		}
		if p := pod.Spec.PreemptionPolicy; p != nil && *p != policy {
			return a.forbidden(fmt.Errorf("the string value of PreemptionPolicy (%s) must not be provided in pod spec; priority admission controller computed %s from the given PriorityClass name", *p, policy))
		}
		pod.Spec.Priority = ptr.To(value)
		pod.Spec.PreemptionPolicy = ptr.To(policy)
	}
	return nil
}
