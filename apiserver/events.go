package apiserver

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/storage"
)

// eventComponent is the source the apiserver's own events carry.
const eventComponent = "shepherd-apiserver"

// eventRecorder writes the events the apiserver records about the objects
// it creates and deletes (pods and deployments), off the request path. All
// events, whoever writes them, are stored with an etcd lease so they expire
// after the event TTL.
type eventRecorder struct {
	store    *storage.Store
	leases   *storage.LeasePool
	queue    chan *corev1.Event
	log      *slog.Logger
	instance string
}

// eventQueueSize bounds the events waiting to be written; past it new
// events are dropped (and logged), never blocking a request.
const eventQueueSize = 1024

func newEventRecorder(store *storage.Store, ttl time.Duration, log *slog.Logger) *eventRecorder {
	if ttl <= 0 {
		ttl = time.Hour
	}
	host, _ := os.Hostname()
	return &eventRecorder{
		store:    store,
		leases:   store.NewLeasePool(ttl),
		queue:    make(chan *corev1.Event, eventQueueSize),
		log:      log,
		instance: host,
	}
}

// lease returns the lease an event written now is attached to.
func (e *eventRecorder) lease(ctx context.Context) (storage.LeaseID, error) {
	return e.leases.Lease(ctx)
}

// recorded reports whether the apiserver records events for res.
func recorded(res *api.Resource) bool { return res == api.Pods || res == api.Deployments }

func (e *eventRecorder) objectCreated(res *api.Resource, obj runtime.Object) {
	if recorded(res) {
		e.record(res, obj, "Created", fmt.Sprintf("Created %s %s", res.Singular, name(obj)))
	}
}

// objectDeleted records a delete: removed at once, or started (a graceful
// or finalizer-blocked deletion).
func (e *eventRecorder) objectDeleted(res *api.Resource, obj runtime.Object, removed bool) {
	if !recorded(res) {
		return
	}
	if removed {
		e.record(res, obj, "Deleted", fmt.Sprintf("Deleted %s %s", res.Singular, name(obj)))
		return
	}
	e.record(res, obj, "Deleting", fmt.Sprintf("Deletion of %s %s requested", res.Singular, name(obj)))
}

func name(obj runtime.Object) string {
	m, err := meta.Accessor(obj)
	if err != nil {
		return ""
	}
	return m.GetName()
}

func (e *eventRecorder) record(res *api.Resource, obj runtime.Object, reason, message string) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	now := metav1.Now()
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{
			Name:      fmt.Sprintf("%s.%x", m.GetName(), now.UnixNano()),
			Namespace: m.GetNamespace(),
		},
		InvolvedObject: corev1.ObjectReference{
			Kind: res.Kind, APIVersion: res.GroupVersion.String(),
			Namespace: m.GetNamespace(), Name: m.GetName(), UID: m.GetUID(),
			ResourceVersion: m.GetResourceVersion(),
		},
		Reason:              reason,
		Message:             message,
		Source:              corev1.EventSource{Component: eventComponent},
		FirstTimestamp:      now,
		LastTimestamp:       now,
		Count:               1,
		Type:                corev1.EventTypeNormal,
		ReportingController: eventComponent,
		ReportingInstance:   e.instance,
	}
	select {
	case e.queue <- ev:
	default:
		e.log.Warn("event queue full; dropping event", "reason", reason, "object", m.GetNamespace()+"/"+m.GetName())
	}
}

// run writes queued events until ctx is done.
func (e *eventRecorder) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-e.queue:
			if err := e.write(ctx, ev); err != nil && ctx.Err() == nil {
				e.log.Warn("writing event failed", "reason", ev.Reason, "object", ev.InvolvedObject.Name, "err", err)
			}
		}
	}
}

func (e *eventRecorder) write(ctx context.Context, ev *corev1.Event) error {
	if err := api.Events.BeforeCreate(ev); err != nil {
		return err
	}
	lease, err := e.lease(ctx)
	if err != nil {
		return err
	}
	return e.store.Create(ctx, api.Events.Storage, ev, storage.WithLease(lease))
}
