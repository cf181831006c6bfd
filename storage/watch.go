package storage

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/metadata"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// WatchOptions say which changes a Watch delivers.
type WatchOptions struct {
	// Namespace, Index and IndexValue scope the watch as they scope a List.
	Namespace         string
	Index, IndexValue string
	// Predicate filters events. An object that stops matching is delivered
	// as Deleted, one that starts matching as Added.
	Predicate Predicate
	// Revision: deliver the changes made after this revision. 0 means the
	// changes made after the watch starts.
	Revision int64
	// ProgressNotify delivers Bookmark events, whose object carries only the
	// revision up to which every change has been delivered, whenever etcd
	// reports progress (see Watcher.RequestProgress).
	ProgressNotify bool
}

// watchResultBuffer is how many events a watch holds for a slow reader
// before it stops reading from etcd.
const watchResultBuffer = 256

// Watch streams the changes to the objects opts select. A start revision
// that has been compacted is reported as an Error event with a 410 Expired
// Status, after which the result channel closes. The watch ends when ctx is
// done or Stop is called.
func (s *Store) Watch(ctx context.Context, r *Resource, opts WatchOptions) (*Watcher, error) {
	prefix, err := s.listPrefix(r, opts.Namespace, opts.Index, opts.IndexValue)
	if err != nil {
		return nil, err
	}
	ctx = clientv3.WithRequireLeader(ctx)
	if opts.ProgressNotify {
		// etcd answers a progress request only when every watch sharing the
		// gRPC stream is synced, so one lagging watch would starve the
		// others of progress. A watch that relies on progress gets a stream
		// of its own (the client keys streams by outgoing metadata).
		ctx = metadata.AppendToOutgoingContext(ctx, "shepherd-watch-stream", strconv.FormatUint(s.streams.Add(1), 10))
	}
	ctx, cancel := context.WithCancel(ctx)
	etcdOpts := []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithPrevKV()}
	if opts.Revision > 0 {
		etcdOpts = append(etcdOpts, clientv3.WithRev(opts.Revision+1))
	}
	if opts.ProgressNotify {
		etcdOpts = append(etcdOpts, clientv3.WithProgressNotify())
	}
	base := r.Prefix("")
	if opts.Index != "" {
		base = r.IndexPrefix(opts.Index, opts.IndexValue)
	}
	w := &Watcher{
		ctx:    ctx,
		store:  s,
		base:   base,
		r:      r,
		opts:   opts,
		result: make(chan watch.Event, watchResultBuffer),
		cancel: cancel,
		done:   make(chan struct{}),
	}
	wch := s.client.Watch(ctx, prefix, etcdOpts...)
	go w.run(ctx, wch)
	return w, nil
}

// Watcher is a running watch. It implements watch.Interface.
type Watcher struct {
	ctx    context.Context // carries the watch's gRPC stream key
	store  *Store
	base   string // the key prefix before namespace/name
	r      *Resource
	opts   WatchOptions
	result chan watch.Event
	cancel context.CancelFunc
	done   chan struct{}
}

func (w *Watcher) ResultChan() <-chan watch.Event { return w.result }

// RequestProgress asks etcd to confirm the current revision to this watch
// (opened with ProgressNotify), which arrives as a Bookmark event: a
// watcher learns etcd has moved on even when nothing it watches changed.
func (w *Watcher) RequestProgress() error {
	if !w.opts.ProgressNotify {
		return errors.New("watch not opened with ProgressNotify")
	}
	return w.store.client.RequestProgress(w.ctx)
}

// Stop ends the watch and waits for its goroutine to finish.
func (w *Watcher) Stop() {
	w.cancel()
	<-w.done
}

func (w *Watcher) run(ctx context.Context, wch clientv3.WatchChan) {
	defer close(w.done)
	defer close(w.result)
	for resp := range wch {
		if resp.CompactRevision != 0 {
			w.send(ctx, errorEvent(apierrors.NewResourceExpired(fmt.Sprintf(
				"too old resource version: %d (%d)", w.opts.Revision, resp.CompactRevision))))
			return
		}
		if err := resp.Err(); err != nil {
			if ctx.Err() == nil {
				w.send(ctx, errorEvent(apierrors.NewInternalError(fmt.Errorf("etcd watch: %w", err))))
			}
			return
		}
		if resp.IsProgressNotify() {
			if w.opts.ProgressNotify {
				bookmark := w.r.New()
				if err := setRevision(bookmark, resp.Header.Revision); err == nil {
					if !w.send(ctx, watch.Event{Type: watch.Bookmark, Object: bookmark}) {
						return
					}
				}
			}
			continue
		}
		for _, ev := range resp.Events {
			e, ok, err := w.convert(ev)
			if err != nil {
				w.send(ctx, errorEvent(apierrors.NewInternalError(err)))
				return
			}
			if ok && !w.send(ctx, e) {
				return
			}
		}
	}
	// The etcd channel closed: the watch was cancelled, or etcd went away.
	if ctx.Err() == nil {
		w.send(ctx, errorEvent(apierrors.NewInternalError(errors.New("etcd watch channel closed"))))
	}
}

// send delivers e unless the watch is stopped first.
func (w *Watcher) send(ctx context.Context, e watch.Event) bool {
	select {
	case w.result <- e:
		return true
	case <-ctx.Done():
		return false
	}
}

// convert turns an etcd event into a watch event, applying the predicate to
// the object's state before and after the change.
func (w *Watcher) convert(ev *clientv3.Event) (watch.Event, bool, error) {
	var cur, prev runtime.Object
	if ev.Type == mvccpb.PUT {
		cur = w.r.New()
		if err := w.store.codec.decode(ev.Kv.Value, cur, ev.Kv.ModRevision); err != nil {
			return watch.Event{}, false, fmt.Errorf("decode %s: %w", ev.Kv.Key, err)
		}
	}
	if ev.Type == mvccpb.DELETE && ev.PrevKv == nil {
		// etcd keeps no previous value once it is compacted; the key still
		// names the object.
		prev = w.r.New()
		m, err := meta.Accessor(prev)
		if err != nil {
			return watch.Event{}, false, err
		}
		ns, name := w.r.splitKey(strings.TrimPrefix(string(ev.Kv.Key), w.base))
		m.SetNamespace(ns)
		m.SetName(name)
		m.SetResourceVersion(strconv.FormatInt(ev.Kv.ModRevision, 10))
	}
	if ev.PrevKv != nil && (ev.Type == mvccpb.DELETE || !w.opts.Predicate.Everything()) {
		prev = w.r.New()
		// A deleted object is reported at the revision of its deletion.
		if err := w.store.codec.decode(ev.PrevKv.Value, prev, ev.Kv.ModRevision); err != nil {
			return watch.Event{}, false, fmt.Errorf("decode %s: %w", ev.PrevKv.Key, err)
		}
	}
	curMatch := cur != nil && w.opts.Predicate.Matches(w.r, cur)
	prevMatch := prev != nil && w.opts.Predicate.Matches(w.r, prev)
	if w.opts.Predicate.Everything() && ev.Type == mvccpb.PUT {
		prevMatch = ev.Kv.Version > 1
	}
	switch {
	case curMatch && prevMatch:
		return watch.Event{Type: watch.Modified, Object: cur}, true, nil
	case curMatch:
		return watch.Event{Type: watch.Added, Object: cur}, true, nil
	case prevMatch:
		if ev.Type == mvccpb.PUT {
			// No longer selected: report the old state at the new revision.
			if err := setRevision(prev, ev.Kv.ModRevision); err != nil {
				return watch.Event{}, false, err
			}
		}
		return watch.Event{Type: watch.Deleted, Object: prev}, true, nil
	}
	return watch.Event{}, false, nil
}

func errorEvent(err *apierrors.StatusError) watch.Event {
	status := err.ErrStatus
	status.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
	return watch.Event{Type: watch.Error, Object: &status}
}
