package watchcache

import (
	"context"
	"sort"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/shepherd-lab/shepherd/storage"
)

// ListOptions say which objects a List returns and how fresh they must be.
type ListOptions struct {
	Namespace string
	Predicate storage.Predicate
	// Limit caps the page; the continue token of a truncated page resumes
	// the list from etcd at the page's revision.
	Limit int64
	// MinRevision: the cache must have applied every change up to it.
	MinRevision int64
	// Consistent: the cache must have caught up with etcd's current
	// revision, as a quorum read would.
	Consistent bool
}

// ListResult is a page of entries, in key order.
type ListResult struct {
	Entries            []*Entry
	Revision           int64
	Continue           string
	RemainingItemCount *int64
}

// List returns the cached objects opts select. It fails with ErrNotFresh when
// the cache cannot catch up with the revision asked for in time.
func (c *Cache) List(ctx context.Context, opts ListOptions) (*ListResult, error) {
	if err := c.waitFresh(ctx, opts.MinRevision, opts.Consistent); err != nil {
		return nil, err
	}
	prefix := c.r.Prefix(opts.Namespace)
	end := clientv3.GetPrefixRangeEnd(prefix)

	c.mu.RLock()
	defer c.mu.RUnlock()
	keys := c.sortedKeysRLocked()
	lo := sort.SearchStrings(keys, prefix)
	hi := sort.SearchStrings(keys, end)
	res := &ListResult{Revision: c.rev}
	everything := opts.Predicate.Everything()
	if everything && opts.Limit <= 0 {
		res.Entries = make([]*Entry, 0, hi-lo)
	}
	for i := lo; i < hi; i++ {
		e := c.objects[keys[i]]
		if !everything && !opts.Predicate.Matches(c.r, e.Object) {
			continue
		}
		if opts.Limit > 0 && int64(len(res.Entries)) == opts.Limit {
			last := res.Entries[len(res.Entries)-1].Key
			res.Continue = storage.ContinueToken(res.Revision, prefix, last)
			if everything {
				remaining := int64(hi - i)
				res.RemainingItemCount = &remaining
			}
			break
		}
		res.Entries = append(res.Entries, e)
	}
	return res, nil
}

// Get returns the cached entry of the named object, or nil, once the cache
// has applied every change up to minRevision.
func (c *Cache) Get(ctx context.Context, namespace, name string, minRevision int64) (*Entry, int64, error) {
	if err := c.waitFresh(ctx, minRevision, false); err != nil {
		return nil, 0, err
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.objects[c.r.Key(namespace, name)], c.rev, nil
}

// sortedKeysRLocked returns the keys in order, sorting them if a create or
// delete made the last sort stale. Readers share the result; it is never
// modified, only replaced.
func (c *Cache) sortedKeysRLocked() []string {
	c.sortMu.Lock()
	defer c.sortMu.Unlock()
	if c.sorted == nil {
		keys := make([]string, 0, len(c.objects))
		for k := range c.objects {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		c.sorted = keys
	}
	return c.sorted
}

// Peek returns the cached entry of the named object, or nil, without
// waiting for the cache to be fresh: a hint, such as a suggestion for
// Store.GuaranteedUpdate, never an answer.
func (c *Cache) Peek(namespace, name string) *Entry {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.objects[c.r.Key(namespace, name)]
}
