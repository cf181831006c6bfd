// Package informer keeps a component's view of one resource current: it
// lists the resource through the storage layer, then follows an etcd watch
// from the list's revision, and tells a Handler about every change. A watch
// that ends is resumed from the last revision seen; a revision etcd has
// compacted meanwhile is recovered by listing again, with the differences
// from the previous view delivered as adds, updates and deletes. The
// scheduler, controllers and kubelets are all driven by informers.
package informer

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/shepherd-lab/shepherd/storage"
)

// Handler receives the changes an informer sees, one call at a time, from
// the informer's goroutine. Objects are shared with the informer's view:
// handlers must not modify them.
type Handler interface {
	OnAdd(obj runtime.Object)
	OnUpdate(old, obj runtime.Object)
	OnDelete(obj runtime.Object)
}

// Funcs adapts functions to a Handler; nil ones are skipped.
type Funcs struct {
	Add    func(obj runtime.Object)
	Update func(old, obj runtime.Object)
	Delete func(obj runtime.Object)
}

func (f Funcs) OnAdd(obj runtime.Object) {
	if f.Add != nil {
		f.Add(obj)
	}
}

func (f Funcs) OnUpdate(old, obj runtime.Object) {
	if f.Update != nil {
		f.Update(old, obj)
	}
}

func (f Funcs) OnDelete(obj runtime.Object) {
	if f.Delete != nil {
		f.Delete(obj)
	}
}

// Config says what an informer follows.
type Config struct {
	Store    *storage.Store
	Resource *storage.Resource
	// Namespace, Index/IndexValue and Predicate select objects as they do
	// for storage.List and storage.Watch.
	Namespace         string
	Index, IndexValue string
	Predicate         storage.Predicate
	Handler           Handler
	Log               *slog.Logger
}

// Informer follows one resource. Create it with New and start it with Run.
type Informer struct {
	cfg    Config
	log    *slog.Logger
	synced chan struct{}

	mu    sync.RWMutex
	items map[string]runtime.Object // by namespace/name
	rev   int64
}

// New returns an informer; nothing happens until Run.
func New(cfg Config) *Informer {
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	if cfg.Handler == nil {
		cfg.Handler = Funcs{}
	}
	return &Informer{
		cfg:    cfg,
		log:    log.With("resource", cfg.Resource.Name),
		synced: make(chan struct{}),
		items:  map[string]runtime.Object{},
	}
}

// retryDelay spaces attempts to list or watch after a failure.
const retryDelay = time.Second

// Run lists and watches until ctx is done.
func (i *Informer) Run(ctx context.Context) {
	needList := true
	for ctx.Err() == nil {
		if needList {
			if err := i.list(ctx); err != nil {
				if ctx.Err() == nil {
					i.log.Warn("list failed; retrying", "err", err)
					sleep(ctx, retryDelay)
				}
				continue
			}
			needList = false
		}
		expired, err := i.watch(ctx)
		if ctx.Err() != nil {
			return
		}
		needList = expired
		if err != nil {
			i.log.Info("watch ended; resuming", "revision", i.Revision(), "err", err)
			sleep(ctx, retryDelay)
		}
	}
}

// Synced is closed once the first list has been delivered.
func (i *Informer) Synced() <-chan struct{} { return i.synced }

// WaitSynced waits for the first list, or for ctx.
func (i *Informer) WaitSynced(ctx context.Context) error {
	select {
	case <-i.synced:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Revision is the etcd revision the view reflects.
func (i *Informer) Revision() int64 {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.rev
}

// Get returns the object as last seen, or nil.
func (i *Informer) Get(namespace, name string) runtime.Object {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.items[namespace+"/"+name]
}

// List returns every object in the view, in no particular order.
func (i *Informer) List() []runtime.Object {
	i.mu.RLock()
	defer i.mu.RUnlock()
	out := make([]runtime.Object, 0, len(i.items))
	for _, o := range i.items {
		out = append(out, o)
	}
	return out
}

func (i *Informer) list(ctx context.Context) error {
	res, err := i.cfg.Store.List(ctx, i.cfg.Resource, storage.ListOptions{
		Namespace: i.cfg.Namespace, Index: i.cfg.Index, IndexValue: i.cfg.IndexValue,
		Predicate: i.cfg.Predicate,
	})
	if err != nil {
		return err
	}
	seen := make(map[string]bool, len(res.Items))
	for _, obj := range res.Items {
		k := key(obj)
		seen[k] = true
		i.apply(watch.Added, k, obj)
	}
	for k, old := range i.snapshot() {
		if !seen[k] {
			i.apply(watch.Deleted, k, old)
		}
	}
	i.mu.Lock()
	i.rev = res.Revision
	i.mu.Unlock()
	select {
	case <-i.synced:
	default:
		close(i.synced)
	}
	return nil
}

func (i *Informer) snapshot() map[string]runtime.Object {
	i.mu.RLock()
	defer i.mu.RUnlock()
	out := make(map[string]runtime.Object, len(i.items))
	for k, v := range i.items {
		out[k] = v
	}
	return out
}

// watch follows changes from the current revision until the watch ends. It
// reports whether the revision has expired (a list is needed).
func (i *Informer) watch(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := i.cfg.Store.Watch(ctx, i.cfg.Resource, storage.WatchOptions{
		Namespace: i.cfg.Namespace, Index: i.cfg.Index, IndexValue: i.cfg.IndexValue,
		Predicate: i.cfg.Predicate, Revision: i.Revision(),
	})
	if err != nil {
		return false, err
	}
	defer w.Stop()
	for ev := range w.ResultChan() {
		switch ev.Type {
		case watch.Error:
			status, _ := ev.Object.(*metav1.Status)
			if status != nil && status.Code == 410 {
				return true, nil
			}
			if status != nil {
				return false, apierrors.FromObject(status)
			}
			return false, errors.New("watch error")
		case watch.Bookmark:
			continue
		}
		i.apply(ev.Type, key(ev.Object), ev.Object)
		if rev, err := storage.Revision(ev.Object); err == nil {
			i.mu.Lock()
			i.rev = rev
			i.mu.Unlock()
		}
	}
	return false, errors.New("watch closed")
}

// apply records a change in the view and tells the handler. An Added for a
// known object (a relist) is an update, and an unchanged one is nothing.
func (i *Informer) apply(t watch.EventType, k string, obj runtime.Object) {
	i.mu.Lock()
	old, known := i.items[k]
	if t == watch.Deleted {
		delete(i.items, k)
	} else {
		i.items[k] = obj
	}
	i.mu.Unlock()
	switch {
	case t == watch.Deleted:
		if known {
			i.cfg.Handler.OnDelete(obj)
		}
	case known:
		if resourceVersion(old) != resourceVersion(obj) {
			i.cfg.Handler.OnUpdate(old, obj)
		}
	default:
		i.cfg.Handler.OnAdd(obj)
	}
}

func key(obj runtime.Object) string {
	m, err := meta.Accessor(obj)
	if err != nil {
		return ""
	}
	return m.GetNamespace() + "/" + m.GetName()
}

func resourceVersion(obj runtime.Object) string {
	m, err := meta.Accessor(obj)
	if err != nil {
		return ""
	}
	return m.GetResourceVersion()
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
