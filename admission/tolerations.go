package admission

import (
	"context"

	corev1 "k8s.io/api/core/v1"

	"github.com/shepherd-lab/shepherd/api"
)

// defaultTolerationSeconds is Kubernetes' DefaultTolerationSeconds plugin:
// a new pod without a NoExecute toleration for the not-ready or the
// unreachable taint gets one for the seconds the settings give, so it is
// evicted that long after its node fails rather than at once.
func defaultTolerationSeconds(_ context.Context, c Cluster, a *Attributes) error {
	if a.Resource != api.Pods || a.Subresource != "" || a.Operation != Create {
		return nil
	}
	pod, ok := a.Object.(*corev1.Pod)
	if !ok {
		return nil
	}
	s := c.Settings()
	addDefaultTolerations(pod, s.DefaultNotReadyTolerationSeconds, s.DefaultUnreachableTolerationSeconds)
	return nil
}

func addDefaultTolerations(pod *corev1.Pod, notReady, unreachable int64) {
	// As Kubernetes: any toleration whose key is the taint's (or empty)
	// and whose effect is NoExecute (or empty) counts, whatever its
	// operator or value.
	covers := func(key string) bool {
		for _, t := range pod.Spec.Tolerations {
			if (t.Key == key || t.Key == "") && (t.Effect == corev1.TaintEffectNoExecute || t.Effect == "") {
				return true
			}
		}
		return false
	}
	add := func(key string, seconds int64) {
		pod.Spec.Tolerations = append(pod.Spec.Tolerations, corev1.Toleration{
			Key: key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &seconds,
		})
	}
	if !covers(corev1.TaintNodeNotReady) {
		add(corev1.TaintNodeNotReady, notReady)
	}
	if !covers(corev1.TaintNodeUnreachable) {
		add(corev1.TaintNodeUnreachable, unreachable)
	}
}
