// Package events writes Kubernetes Event objects for the components (the
// apiserver, the scheduler, later the controllers and kubelets) straight to
// etcd, off the caller's path and in batches: one etcd transaction per batch
// rather than per event, so a burst of pods does not double etcd's write
// load. Every event is stored with an etcd lease, so it expires after the
// event TTL without anyone deleting it.
package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/shepherd-lab/shepherd/admission"
	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/storage"
)

const (
	// queueSize bounds the events waiting to be written; past it new events
	// are dropped (and counted), never blocking the caller.
	queueSize = 8192
	// batchSize and batchWait bound a batch: written when it is full or when
	// its first event has waited this long.
	batchSize = 100 // within etcd's default limit of 128 operations per transaction
	batchWait = 100 * time.Millisecond
	// dropWarningInterval spaces the warnings about dropped events.
	dropWarningInterval = 10 * time.Second
	// DefaultTTL is how long events live unless the recorder is told otherwise
	// (kube-apiserver's --event-ttl default).
	DefaultTTL = time.Hour
)

// Recorder queues events and writes them in batches (see Run).
type Recorder struct {
	store     *storage.Store
	admission *admission.Admission
	leases    *storage.LeasePool
	queue     chan *corev1.Event
	log       *slog.Logger
	component string
	instance  string
	dropped   atomic.Int64 // events dropped since the last warning
	lastStamp atomic.Int64 // the last name suffix used
}

// NewRecorder returns a recorder whose events name component as their
// source, admitted by adm as any object a component writes (an event about
// an object in a namespace being deleted is refused, and dropped). A ttl
// of 0 means DefaultTTL.
func NewRecorder(store *storage.Store, adm *admission.Admission, component string, ttl time.Duration, log *slog.Logger) *Recorder {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	host, _ := os.Hostname()
	return &Recorder{
		store:     store,
		admission: adm,
		leases:    store.NewLeasePool(ttl),
		queue:     make(chan *corev1.Event, queueSize),
		log:       log,
		component: component,
		instance:  host,
	}
}

// Lease returns the etcd lease an event written now is attached to, for
// events written by other paths (the apiserver's events POSTed by clients)
// to expire alike.
func (r *Recorder) Lease(ctx context.Context) (storage.LeaseID, error) {
	return r.leases.Lease(ctx)
}

// Record queues an event of type eventType (corev1.EventTypeNormal or
// EventTypeWarning) about obj, whose kind and API version are res's.
func (r *Recorder) Record(res *api.Resource, obj runtime.Object, eventType, reason, message string) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	now := metav1.Now()
	// Names are <object>.<hex nanoseconds>, as Kubernetes' recorders name
	// them, made unique within the recorder: two events of one batch with
	// the same key would fail the whole transaction.
	stamp := now.UnixNano()
	for {
		last := r.lastStamp.Load()
		if stamp <= last {
			stamp = last + 1
		}
		if r.lastStamp.CompareAndSwap(last, stamp) {
			break
		}
	}
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{
			Name:      fmt.Sprintf("%s.%x", m.GetName(), stamp),
			Namespace: m.GetNamespace(),
		},
		InvolvedObject: corev1.ObjectReference{
			Kind: res.Kind, APIVersion: res.GroupVersion.String(),
			Namespace: m.GetNamespace(), Name: m.GetName(), UID: m.GetUID(),
			ResourceVersion: m.GetResourceVersion(),
		},
		Reason:              reason,
		Message:             message,
		Source:              corev1.EventSource{Component: r.component},
		FirstTimestamp:      now,
		LastTimestamp:       now,
		Count:               1,
		Type:                eventType,
		ReportingController: r.component,
		ReportingInstance:   r.instance,
	}
	if ev.Namespace == "" {
		// Events about cluster-scoped objects live in default, as in Kubernetes.
		ev.Namespace = metav1.NamespaceDefault
	}
	select {
	case r.queue <- ev:
	default:
		r.dropped.Add(1)
	}
}

// Run writes queued events in batches until ctx is done.
func (r *Recorder) Run(ctx context.Context) {
	warn := time.NewTicker(dropWarningInterval)
	defer warn.Stop()
	for {
		var batch []*corev1.Event
		select {
		case <-ctx.Done():
			return
		case <-warn.C:
			if n := r.dropped.Swap(0); n > 0 {
				r.log.Warn("event queue full: events dropped", "count", n, "interval", dropWarningInterval)
			}
			continue
		case ev := <-r.queue:
			batch = append(batch, ev)
		}
		deadline := time.NewTimer(batchWait)
	fill:
		for len(batch) < batchSize {
			select {
			case ev := <-r.queue:
				batch = append(batch, ev)
			case <-deadline.C:
				break fill
			case <-ctx.Done():
				break fill
			}
		}
		deadline.Stop()
		if err := r.write(ctx, batch); err != nil && ctx.Err() == nil {
			r.log.Warn("writing events failed", "count", len(batch), "err", err)
		}
	}
}

// write stores a batch of events in one transaction, or one by one if the
// batch collides with an existing event.
func (r *Recorder) write(ctx context.Context, batch []*corev1.Event) error {
	objs := make([]runtime.Object, 0, len(batch))
	for _, ev := range batch {
		if err := r.admission.Create(ctx, api.Events, ev); err != nil {
			level := slog.LevelWarn
			if apierrors.IsForbidden(err) || apierrors.IsNotFound(err) || ctx.Err() != nil {
				level = slog.LevelDebug // its namespace is going or gone, or we are stopping
			}
			r.log.Log(ctx, level, "dropping event", "reason", ev.Reason, "namespace", ev.Namespace, "err", err)
			continue
		}
		objs = append(objs, ev)
	}
	if len(objs) == 0 {
		return nil
	}
	lease, err := r.Lease(ctx)
	if err != nil {
		return err
	}
	err = r.store.CreateMany(ctx, api.Events.Storage, objs, storage.WithLease(lease))
	if !errors.Is(err, storage.ErrAlreadyExists) {
		return err
	}
	for _, obj := range objs {
		if err := r.store.Create(ctx, api.Events.Storage, obj, storage.WithLease(lease)); err != nil && !errors.Is(err, storage.ErrAlreadyExists) {
			return err
		}
	}
	return nil
}
