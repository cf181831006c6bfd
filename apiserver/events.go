package apiserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
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
// it creates and deletes (pods and deployments), off the request path and
// in batches: one etcd transaction per batch rather than per event, so a
// burst of pod creates does not double etcd's write load. All events,
// whoever writes them, are stored with an etcd lease so they expire after
// the event TTL.
type eventRecorder struct {
	store    *storage.Store
	leases   *storage.LeasePool
	queue    chan *corev1.Event
	log      *slog.Logger
	instance string
	dropped  atomic.Int64 // events dropped since the last warning
}

const (
	// eventQueueSize bounds the events waiting to be written; past it new
	// events are dropped (and counted), never blocking a request.
	eventQueueSize = 8192
	// eventBatch and eventBatchWait bound a batch: written when it is full
	// or when its first event has waited this long.
	eventBatch     = 100 // within etcd's default limit of 128 operations per transaction
	eventBatchWait = 100 * time.Millisecond
	// dropWarningInterval spaces the warnings about dropped events.
	dropWarningInterval = 10 * time.Second
)

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
		e.dropped.Add(1)
	}
}

// run writes queued events in batches until ctx is done.
func (e *eventRecorder) run(ctx context.Context) {
	warn := time.NewTicker(dropWarningInterval)
	defer warn.Stop()
	for {
		var batch []*corev1.Event
		select {
		case <-ctx.Done():
			return
		case <-warn.C:
			if n := e.dropped.Swap(0); n > 0 {
				e.log.Warn("event queue full: events dropped", "count", n, "interval", dropWarningInterval)
			}
			continue
		case ev := <-e.queue:
			batch = append(batch, ev)
		}
		deadline := time.NewTimer(eventBatchWait)
	fill:
		for len(batch) < eventBatch {
			select {
			case ev := <-e.queue:
				batch = append(batch, ev)
			case <-deadline.C:
				break fill
			case <-ctx.Done():
				break fill
			}
		}
		deadline.Stop()
		if err := e.write(ctx, batch); err != nil && ctx.Err() == nil {
			e.log.Warn("writing events failed", "count", len(batch), "err", err)
		}
	}
}

// write stores a batch of events in one transaction, or one by one if the
// batch collides with an existing event.
func (e *eventRecorder) write(ctx context.Context, batch []*corev1.Event) error {
	objs := make([]runtime.Object, 0, len(batch))
	for _, ev := range batch {
		if err := api.Events.BeforeCreate(ev); err != nil {
			e.log.Warn("dropping invalid event", "reason", ev.Reason, "err", err)
			continue
		}
		objs = append(objs, ev)
	}
	lease, err := e.lease(ctx)
	if err != nil {
		return err
	}
	err = e.store.CreateMany(ctx, api.Events.Storage, objs, storage.WithLease(lease))
	if !errors.Is(err, storage.ErrAlreadyExists) {
		return err
	}
	for _, obj := range objs {
		if err := e.store.Create(ctx, api.Events.Storage, obj, storage.WithLease(lease)); err != nil && !errors.Is(err, storage.ErrAlreadyExists) {
			return err
		}
	}
	return nil
}
