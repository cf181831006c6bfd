package watchcache

import (
	"context"
	"fmt"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/shepherd-lab/shepherd/storage"
)

// WatchOptions say where a watch starts and what it delivers.
type WatchOptions struct {
	Namespace string
	Predicate storage.Predicate
	// Revision: without InitialState, deliver the changes after it (0: after
	// now). With InitialState, the cache must first reach it.
	Revision int64
	// InitialState delivers the current state as Added events first.
	InitialState bool
	// InitialEventsEnd follows the initial state with a bookmark annotated
	// k8s.io/initial-events-end: "true" (the watch-list protocol).
	InitialEventsEnd bool
	// Consistent makes the initial state as fresh as a quorum read.
	Consistent bool
	// Bookmarks delivers periodic Bookmark events carrying the revision.
	Bookmarks bool
}

const (
	// watcherBuffer is how many events a watcher may lag behind before
	// the cache ends it; its client resumes from its last revision.
	watcherBuffer = 1024
	// bookmarkInterval is the least time between two bookmarks to a watcher.
	bookmarkInterval = 30 * time.Second
	// InitialEventsEndAnnotation marks the bookmark ending the initial state.
	InitialEventsEndAnnotation = metav1.InitialEventsAnnotationKey
)

// Watcher is one client's watch on the cache.
type Watcher struct {
	c         *Cache
	prefix    string
	pred      storage.Predicate
	startRev  int64
	bookmarks bool

	incoming     chan Event // filled by the cache under its lock
	out          chan Event
	stop         chan struct{}
	done         chan struct{}
	stopOnce     sync.Once
	lastBookmark time.Time
}

// Watch starts a watch. A Revision older than the cache's history fails
// with a 410 Expired StatusError; one the cache cannot reach in time fails
// with ErrNotFresh.
func (c *Cache) Watch(ctx context.Context, opts WatchOptions) (*Watcher, error) {
	if opts.InitialState || opts.Consistent || opts.Revision > 0 {
		if err := c.waitFresh(ctx, opts.Revision, opts.Consistent); err != nil {
			return nil, err
		}
	} else if err := c.waitFresh(ctx, 0, false); err != nil {
		return nil, err
	}
	w := &Watcher{
		c:            c,
		prefix:       c.r.Prefix(opts.Namespace),
		pred:         opts.Predicate,
		bookmarks:    opts.Bookmarks,
		incoming:     make(chan Event, watcherBuffer),
		out:          make(chan Event),
		stop:         make(chan struct{}),
		done:         make(chan struct{}),
		lastBookmark: time.Now(),
	}
	var initial []Event
	c.mu.Lock()
	switch {
	case opts.InitialState:
		keys := c.sortedKeysRLocked()
		for _, k := range keys {
			if e := c.objects[k]; matches(e, w.prefix, w.pred, c.r) {
				initial = append(initial, Event{Type: watch.Added, Entry: e})
			}
		}
		if opts.InitialEventsEnd {
			initial = append(initial, Event{Type: watch.Bookmark, Entry: c.bookmarkEntry(c.rev, true)})
		}
	case opts.Revision > 0:
		if opts.Revision < c.oldest {
			oldest := c.oldest
			c.mu.Unlock()
			return nil, apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d (%d)", opts.Revision, oldest))
		}
		for _, ch := range c.changesAfterLocked(opts.Revision) {
			if e, ok := w.convert(ch); ok {
				initial = append(initial, e)
			}
		}
	}
	w.startRev = c.rev
	c.watchers[w] = struct{}{}
	c.mu.Unlock()
	go w.run(initial)
	return w, nil
}

// ResultChan delivers the watch's events; it closes when the watch ends.
func (w *Watcher) ResultChan() <-chan Event { return w.out }

// Stop ends the watch and waits until its goroutine is done.
func (w *Watcher) Stop() {
	w.stopOnce.Do(func() {
		w.c.mu.Lock()
		delete(w.c.watchers, w)
		w.c.mu.Unlock()
		close(w.stop)
	})
	<-w.done
}

func (w *Watcher) run(initial []Event) {
	defer close(w.done)
	defer close(w.out)
	for _, e := range initial {
		if !w.send(e) {
			return
		}
	}
	for {
		select {
		case e, ok := <-w.incoming:
			if !ok || !w.send(e) {
				return
			}
		case <-w.stop:
			return
		}
	}
}

func (w *Watcher) send(e Event) bool {
	select {
	case w.out <- e:
		return true
	case <-w.stop:
		return false
	}
}

// convert returns the event this watcher sees for a change: an object that
// starts matching the selector is Added, one that stops matching is Deleted.
func (w *Watcher) convert(ch change) (Event, bool) {
	if ch.typ == watch.Deleted {
		return Event{Type: watch.Deleted, Entry: ch.cur}, matches(ch.cur, w.prefix, w.pred, w.c.r)
	}
	cur := matches(ch.cur, w.prefix, w.pred, w.c.r)
	prev := matches(ch.prev, w.prefix, w.pred, w.c.r)
	switch {
	case cur && prev:
		return Event{Type: watch.Modified, Entry: ch.cur}, true
	case cur:
		return Event{Type: watch.Added, Entry: ch.cur}, true
	case prev:
		// Gone from this watcher's view: its last matching state, at the
		// revision of the change.
		obj := ch.prev.Object.DeepCopyObject()
		if m, err := meta.Accessor(obj); err == nil {
			m.SetResourceVersion(fmt.Sprint(ch.rev))
		}
		return Event{Type: watch.Deleted, Entry: &Entry{Key: ch.prev.Key, Object: obj, Revision: ch.rev, encoder: ch.prev.encoder}}, true
	}
	return Event{}, false
}

// dispatchLocked hands a change to every watcher that sees it. A watcher
// whose buffer is full is ended rather than allowed to hold up the others.
func (c *Cache) dispatchLocked(ch change) {
	for w := range c.watchers {
		if ch.rev <= w.startRev {
			continue
		}
		e, ok := w.convert(ch)
		if !ok {
			continue
		}
		select {
		case w.incoming <- e:
		default:
			c.log.Info("ending a watcher that fell behind", "buffer", watcherBuffer)
			delete(c.watchers, w)
			close(w.incoming)
		}
	}
}

// bookmarkLocked sends a bookmark to the watchers that asked for them and
// have had none for bookmarkInterval.
func (c *Cache) bookmarkLocked() {
	var entry *Entry
	now := time.Now()
	for w := range c.watchers {
		if !w.bookmarks || now.Sub(w.lastBookmark) < bookmarkInterval {
			continue
		}
		if entry == nil {
			entry = c.bookmarkEntry(c.rev, false)
		}
		select {
		case w.incoming <- Event{Type: watch.Bookmark, Entry: entry}:
			w.lastBookmark = now
		default:
		}
	}
}

// bookmarkEntry returns an empty object carrying only rev (and, to end an
// initial state, the initial-events-end annotation).
func (c *Cache) bookmarkEntry(rev int64, initialEnd bool) *Entry {
	obj := c.r.New()
	obj.GetObjectKind().SetGroupVersionKind(c.r.Kind)
	if m, err := meta.Accessor(obj); err == nil {
		m.SetResourceVersion(fmt.Sprint(rev))
		if initialEnd {
			m.SetAnnotations(map[string]string{InitialEventsEndAnnotation: "true"})
		}
	}
	return &Entry{Object: obj, Revision: rev, encoder: c.encode}
}

// terminateWatchersLocked ends every watcher: after a relist the cache
// cannot tell them what changed in between.
func (c *Cache) terminateWatchersLocked() {
	for w := range c.watchers {
		delete(c.watchers, w)
		close(w.incoming)
	}
}
