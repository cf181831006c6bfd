package watchcache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/shepherd-lab/shepherd/storage"
)

// Config configures a Cache.
type Config struct {
	Store    *storage.Store
	Resource *storage.Resource
	// Encode is the wire form entries memoize (see Entry.Encoded).
	Encode Encoder
	// HistorySize is how many recent events are kept for watchers that
	// resume from an older revision; 10000 when zero.
	HistorySize int
	Logger      *slog.Logger
}

// ErrNotFresh means the cache could not catch up with the revision a read
// needs in time; the caller reads etcd instead, or reports a timeout.
var ErrNotFresh = errors.New("watch cache is behind the requested revision")

// freshnessTimeout bounds how long a read waits for the cache to catch up.
const freshnessTimeout = 3 * time.Second

// Cache is the in-memory replica of one resource.
type Cache struct {
	store       *storage.Store
	r           *storage.Resource
	encode      Encoder
	historySize int
	log         *slog.Logger

	mu       sync.RWMutex
	objects  map[string]*Entry
	sortMu   sync.Mutex // guards sorted, which readers build under mu.RLock
	sorted   []string   // the keys of objects in order; nil when stale
	rev      int64      // every change up to rev is applied
	revCh    chan struct{}
	ready    bool
	history  []change // a ring of the latest changes
	head     int      // index of the oldest change in history
	oldest   int64    // history holds every change after this revision
	watchers map[*Watcher]struct{}
	// watch is the etcd watch feeding the cache, when one is open.
	watch *storage.Watcher
}

// change is one applied event with the object's state before it.
type change struct {
	typ  watch.EventType
	cur  *Entry // the new state, or for Deleted the last state at the deletion revision
	prev *Entry // the state before, nil for Added
	rev  int64
}

// New returns a cache; Run fills it.
func New(cfg Config) *Cache {
	size := cfg.HistorySize
	if size <= 0 {
		size = 10000
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Cache{
		store:       cfg.Store,
		r:           cfg.Resource,
		encode:      cfg.Encode,
		historySize: size,
		log:         log.With("resource", cfg.Resource.Name),
		objects:     map[string]*Entry{},
		revCh:       make(chan struct{}),
		watchers:    map[*Watcher]struct{}{},
	}
}

// Run lists the resource, then follows its changes, until ctx is done. When
// the etcd watch fails it lists again, ending every open watcher (their
// clients resume from the revision they last saw).
func (c *Cache) Run(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := c.listAndWatch(ctx)
		if ctx.Err() != nil {
			break
		}
		c.log.Warn("watch cache restarting", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
	c.mu.Lock()
	c.ready = false
	c.terminateWatchersLocked()
	c.mu.Unlock()
}

func (c *Cache) listAndWatch(ctx context.Context) error {
	list, err := c.store.List(ctx, c.r, storage.ListOptions{})
	if err != nil {
		return fmt.Errorf("list %s: %w", c.r.Name, err)
	}
	c.replace(list.Items, list.Revision)
	w, err := c.store.Watch(ctx, c.r, storage.WatchOptions{Revision: list.Revision, ProgressNotify: true})
	if err != nil {
		return fmt.Errorf("watch %s: %w", c.r.Name, err)
	}
	c.mu.Lock()
	c.watch = w
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.watch = nil
		c.mu.Unlock()
		w.Stop()
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-w.ResultChan():
			if !ok {
				return fmt.Errorf("watch %s closed", c.r.Name)
			}
			if ev.Type == watch.Error {
				if st, ok := ev.Object.(*metav1.Status); ok {
					return fmt.Errorf("watch %s: %s", c.r.Name, st.Message)
				}
				return fmt.Errorf("watch %s failed", c.r.Name)
			}
			if err := c.apply(ev); err != nil {
				return err
			}
		}
	}
}

// replace installs a fresh listing at rev.
func (c *Cache) replace(items []runtime.Object, rev int64) {
	objects := make(map[string]*Entry, len(items))
	for _, o := range items {
		e, err := c.newEntry(o)
		if err != nil {
			c.log.Error("watch cache: skipping object", "err", err)
			continue
		}
		objects[e.Key] = e
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.terminateWatchersLocked()
	c.objects = objects
	c.sorted = nil
	c.history = make([]change, 0, min(c.historySize, 1024))
	c.head = 0
	c.oldest = rev
	c.ready = true
	c.setRevLocked(rev)
}

func (c *Cache) newEntry(o runtime.Object) (*Entry, error) {
	m, err := meta.Accessor(o)
	if err != nil {
		return nil, err
	}
	rev, err := storage.ParseRevision(m.GetResourceVersion())
	if err != nil {
		return nil, err
	}
	// Objects are encoded with their kind, and shared read-only from here on.
	o.GetObjectKind().SetGroupVersionKind(c.r.Kind)
	return &Entry{
		Key:      c.r.Key(m.GetNamespace(), m.GetName()),
		Object:   o,
		Revision: rev,
		encoder:  c.encode,
	}, nil
}

// apply folds one event from etcd into the cache and hands it to watchers.
func (c *Cache) apply(ev watch.Event) error {
	e, err := c.newEntry(ev.Object)
	if err != nil {
		return fmt.Errorf("watch %s: %w", c.r.Name, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if ev.Type == watch.Bookmark {
		if e.Revision > c.rev {
			c.setRevLocked(e.Revision)
			c.bookmarkLocked()
		}
		return nil
	}
	ch := change{typ: ev.Type, cur: e, prev: c.objects[e.Key], rev: e.Revision}
	switch ev.Type {
	case watch.Added, watch.Modified:
		if ch.prev == nil {
			ch.typ = watch.Added
			c.sorted = nil
		} else {
			ch.typ = watch.Modified
		}
		c.objects[e.Key] = e
	case watch.Deleted:
		if ch.prev == nil {
			return nil // never seen: nothing to tell anyone
		}
		delete(c.objects, e.Key)
		c.sorted = nil
	}
	c.record(ch)
	c.setRevLocked(ch.rev)
	c.dispatchLocked(ch)
	return nil
}

// record appends ch to the history ring, dropping the oldest change when
// the ring is full.
func (c *Cache) record(ch change) {
	if len(c.history) < c.historySize {
		c.history = append(c.history, ch)
		return
	}
	c.oldest = c.history[c.head].rev
	c.history[c.head] = ch
	c.head = (c.head + 1) % len(c.history)
}

// changesAfter returns the recorded changes after rev, oldest first.
func (c *Cache) changesAfterLocked(rev int64) []change {
	n := len(c.history)
	i := sort.Search(n, func(i int) bool { return c.history[(c.head+i)%n].rev > rev })
	out := make([]change, 0, n-i)
	for ; i < n; i++ {
		out = append(out, c.history[(c.head+i)%n])
	}
	return out
}

func (c *Cache) setRevLocked(rev int64) {
	c.rev = rev
	close(c.revCh)
	c.revCh = make(chan struct{})
}

// RequestProgress asks etcd to confirm its current revision to the cache,
// so an idle resource's cache keeps up with etcd's revision.
func (c *Cache) RequestProgress() {
	c.mu.RLock()
	w := c.watch
	c.mu.RUnlock()
	if w != nil {
		if err := w.RequestProgress(); err != nil {
			c.log.Debug("request watch progress", "err", err)
		}
	}
}

// Revision returns the revision up to which the cache is complete.
func (c *Cache) Revision() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.rev
}

// Ready reports whether the cache holds a full listing.
func (c *Cache) Ready() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.ready
}

// Len returns the number of objects cached.
func (c *Cache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.objects)
}

// waitFresh blocks until the cache is ready and has applied every change up
// to rev. With consistent set, rev is first raised to etcd's current
// revision. It fails with ErrNotFresh after freshnessTimeout.
func (c *Cache) waitFresh(ctx context.Context, rev int64, consistent bool) error {
	if consistent {
		cur, err := c.store.CurrentRevision(ctx)
		if err != nil {
			return err
		}
		rev = max(rev, cur)
	}
	deadline := time.NewTimer(freshnessTimeout)
	defer deadline.Stop()
	var lastProgress time.Time
	for {
		c.mu.RLock()
		ok, ch, behind := c.ready && c.rev >= rev, c.revCh, c.ready
		c.mu.RUnlock()
		if ok {
			return nil
		}
		if behind && consistent && time.Since(lastProgress) > 100*time.Millisecond {
			// Nothing of ours may change for a while: ask etcd to confirm
			// the revision it is at.
			lastProgress = time.Now()
			c.RequestProgress()
		}
		select {
		case <-ch:
		case <-time.After(100 * time.Millisecond):
		case <-deadline.C:
			return fmt.Errorf("%w: want %d, at %d", ErrNotFresh, rev, c.Revision())
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// matches reports whether e is in namespace prefix and selected by pred.
func matches(e *Entry, prefix string, pred storage.Predicate, r *storage.Resource) bool {
	return e != nil && strings.HasPrefix(e.Key, prefix) && pred.Matches(r, e.Object)
}
