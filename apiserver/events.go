package apiserver

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/events"
)

// eventComponent is the source the apiserver's own events carry.
const eventComponent = "shepherd-apiserver"

// eventRecorder records the events the apiserver writes about the objects it
// creates and deletes (pods and deployments), through the batching
// events.Recorder, which also lends its etcd lease to events clients POST.
type eventRecorder struct{ *events.Recorder }

// recorded reports whether the apiserver records events for res.
func recorded(res *api.Resource) bool { return res == api.Pods || res == api.Deployments }

func (e eventRecorder) objectCreated(res *api.Resource, obj runtime.Object) {
	if recorded(res) {
		e.Record(res, obj, corev1.EventTypeNormal, "Created", fmt.Sprintf("Created %s %s", res.Singular, name(obj)))
	}
}

// objectDeleted records a delete: removed at once, or started (a graceful
// or finalizer-blocked deletion).
func (e eventRecorder) objectDeleted(res *api.Resource, obj runtime.Object, removed bool) {
	if !recorded(res) {
		return
	}
	if removed {
		e.Record(res, obj, corev1.EventTypeNormal, "Deleted", fmt.Sprintf("Deleted %s %s", res.Singular, name(obj)))
		return
	}
	e.Record(res, obj, corev1.EventTypeNormal, "Deleting", fmt.Sprintf("Deletion of %s %s requested", res.Singular, name(obj)))
}

func name(obj runtime.Object) string {
	m, err := meta.Accessor(obj)
	if err != nil {
		return ""
	}
	return m.GetName()
}
