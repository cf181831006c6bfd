package apiserver

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/shepherd-lab/shepherd/api"
)

// DefaultTolerationSeconds is the default of
// --default-not-ready-toleration-seconds and
// --default-unreachable-toleration-seconds, as in Kubernetes.
const DefaultTolerationSeconds = 300

// tolerationDefaults is Kubernetes' DefaultTolerationSeconds admission
// plugin: a pod created without a NoExecute toleration for the not-ready
// or unreachable taint gets one for notReady or unreachable seconds, so it
// is evicted that long after its node fails rather than at once.
type tolerationDefaults struct {
	notReady, unreachable int64
}

// admit adds the missing default tolerations to obj, a pod being created.
func (d tolerationDefaults) admit(res *api.Resource, obj runtime.Object) {
	pod, ok := obj.(*corev1.Pod)
	if res != api.Pods || !ok {
		return
	}
	api.AddDefaultTolerations(pod, d.notReady, d.unreachable)
}
