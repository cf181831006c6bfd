package storage

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/runtime"
)

// ListOptions say which objects a List returns.
type ListOptions struct {
	// Namespace limits the list to one namespace; "" lists all.
	Namespace string
	// Index and IndexValue list the entries of one index value (e.g. the pods
	// of one node) instead of the whole resource.
	Index, IndexValue string
	// Predicate filters the objects.
	Predicate Predicate
	// Limit caps the number of objects returned; 0 means no limit. A
	// truncated list carries a continue token for the next page.
	Limit int64
	// Continue resumes a paginated list at the revision its first page was
	// read at.
	Continue string
	// Revision reads the list at exactly this revision; 0 reads the latest.
	Revision int64
}

// ListResult is one page of a list.
type ListResult struct {
	Items []runtime.Object
	// Revision is the revision the whole list (every page) is read at.
	Revision int64
	// Continue is set when more objects remain.
	Continue string
	// RemainingItemCount is how many objects remain after this page, known
	// only when the list has no predicate.
	RemainingItemCount *int64
}

// maxListBatch bounds one etcd range of a filtered list.
const maxListBatch = 10000

// List returns the objects opts select, in key order. All pages of a list are
// read at the revision of the first, so each object appears exactly once
// however the store changes between pages; a page whose revision has since
// been compacted fails with ErrExpired.
func (s *Store) List(ctx context.Context, r *Resource, opts ListOptions) (*ListResult, error) {
	prefix, err := s.listPrefix(r, opts.Namespace, opts.Index, opts.IndexValue)
	if err != nil {
		return nil, err
	}
	startKey, rev := prefix, opts.Revision
	if opts.Continue != "" {
		crev, start, err := decodeContinue(opts.Continue)
		if err != nil {
			return nil, err
		}
		startKey, rev = prefix+start, crev
	}
	end := clientv3.GetPrefixRangeEnd(prefix)

	// batch 0 reads the whole range at once. A filtered page reads ahead,
	// and reads more each round, since not every object will match.
	var batch int64
	if opts.Limit > 0 {
		batch = opts.Limit
		if !opts.Predicate.Everything() {
			batch = min(max(batch, 100), maxListBatch)
		}
	}

	result := &ListResult{}
	for {
		getOpts := []clientv3.OpOption{clientv3.WithRange(end)}
		if batch > 0 {
			getOpts = append(getOpts, clientv3.WithLimit(batch))
		}
		if rev > 0 {
			getOpts = append(getOpts, clientv3.WithRev(rev))
		}
		start := time.Now()
		resp, err := s.client.Get(ctx, startKey, getOpts...)
		s.metrics.observe("list", r.Name, start)
		if err != nil {
			return nil, etcdError(prefix, err)
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for i, kv := range resp.Kvs {
			obj := r.New()
			if err := s.codec.decode(kv.Value, obj, kv.ModRevision); err != nil {
				return nil, fmt.Errorf("decode %s: %w", kv.Key, err)
			}
			if !opts.Predicate.Matches(r, obj) {
				continue
			}
			result.Items = append(result.Items, obj)
			if opts.Limit > 0 && int64(len(result.Items)) == opts.Limit {
				if i < len(resp.Kvs)-1 || resp.More {
					result.Continue = encodeContinue(rev, string(kv.Key[len(prefix):])+"\x00")
					if opts.Predicate.Everything() {
						remaining := resp.Count - int64(i+1)
						result.RemainingItemCount = &remaining
					}
				}
				result.Revision = rev
				return result, nil
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		startKey = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
		if batch > 0 && batch < maxListBatch {
			batch = min(batch*2, maxListBatch)
		}
	}
	result.Revision = rev
	return result, nil
}

func (s *Store) listPrefix(r *Resource, namespace, index, value string) (string, error) {
	if index == "" {
		return r.Prefix(namespace), nil
	}
	if _, err := r.index(index); err != nil {
		return "", err
	}
	if value == "" {
		return "", fmt.Errorf("resource %s: index %q needs a value", r.Name, index)
	}
	prefix := r.IndexPrefix(index, value)
	if r.Namespaced && namespace != "" {
		prefix += namespace + "/"
	}
	return prefix, nil
}

// continueToken is the wire form of a continue token, the same shape
// kube-apiserver uses so that tools that peek into tokens keep working.
type continueToken struct {
	APIVersion      string `json:"v"`
	ResourceVersion int64  `json:"rv"`
	StartKey        string `json:"start"`
}

func encodeContinue(rev int64, start string) string {
	data, _ := json.Marshal(continueToken{APIVersion: "meta.k8s.io/v1", ResourceVersion: rev, StartKey: start})
	return base64.RawURLEncoding.EncodeToString(data)
}

func decodeContinue(token string) (rev int64, start string, err error) {
	data, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return 0, "", fmt.Errorf("%w: %v", ErrInvalidContinue, err)
	}
	var c continueToken
	if err := json.Unmarshal(data, &c); err != nil {
		return 0, "", fmt.Errorf("%w: %v", ErrInvalidContinue, err)
	}
	if c.APIVersion != "meta.k8s.io/v1" || c.ResourceVersion <= 0 || c.StartKey == "" {
		return 0, "", fmt.Errorf("%w: unsupported token contents", ErrInvalidContinue)
	}
	// The start key is appended to the list's prefix. As kube-apiserver
	// does, a key that is not a clean path ("..", "." or empty segments) is
	// refused, so a token cannot reach beyond the list it continues.
	key := c.StartKey
	if !strings.HasPrefix(key, "/") {
		key = "/" + key
	}
	if path.Clean(key) != key {
		return 0, "", fmt.Errorf("%w: %s", ErrInvalidContinue, c.StartKey)
	}
	return c.ResourceVersion, key[1:], nil
}

// ContinueRevision returns the revision a continue token's list is read at.
func ContinueRevision(token string) (int64, error) {
	rev, _, err := decodeContinue(token)
	return rev, err
}

// ContinueToken returns the token that resumes, at revision rev, a list of
// the keys under prefix after lastKey. Caches that serve a list's first
// page use it, so the next pages come from etcd at the same revision.
func ContinueToken(rev int64, prefix, lastKey string) string {
	return encodeContinue(rev, strings.TrimPrefix(lastKey, prefix)+"\x00")
}
