package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
)

// Update replaces old, the object as stored at old's resourceVersion, with
// obj, and sets obj's resourceVersion to the write's revision. Index entries
// and claims follow the change in the same transaction. It fails with
// ErrConflict when the object changed since old was read, ErrNotFound when it
// is gone, a *ClaimedError when obj claims what another object holds, and a
// *TooLargeError (ErrRequestTooLarge) when obj is too large to store.
//
// Transaction: If(ModRevision(key)==rev, ModRevision(newClaim)==0 ...)
// Then(Put(key), Put/Delete(index...), Put/Delete(claim...))
// Else(Get(key), Get(newClaim...)).
func (s *Store) Update(ctx context.Context, r *Resource, old, obj runtime.Object, opts ...WriteOption) error {
	_, err := s.update(ctx, r, old, obj, nil, opts)
	return err
}

// update writes obj over old. data is obj's encoding when the caller has it.
// On ErrConflict it returns the current key-value from the Else branch.
func (s *Store) update(ctx context.Context, r *Resource, old, obj runtime.Object, data []byte, opts []WriteOption) (*mvccpb.KeyValue, error) {
	om, err := meta.Accessor(old)
	if err != nil {
		return nil, err
	}
	key := r.Key(om.GetNamespace(), om.GetName())
	if nm, err := meta.Accessor(obj); err != nil {
		return nil, err
	} else if nm.GetName() != om.GetName() || nm.GetNamespace() != om.GetNamespace() {
		return nil, fmt.Errorf("%s: update may not rename the object to %s/%s", key, nm.GetNamespace(), nm.GetName())
	}
	rev, err := ParseRevision(om.GetResourceVersion())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	if rev == 0 {
		return nil, fmt.Errorf("%s: update needs the resourceVersion of the object it replaces", key)
	}
	if data == nil {
		if data, err = s.codec.encode(r, obj); err != nil {
			return nil, err
		}
	}
	if err := checkSize(key, data); err != nil {
		return nil, err
	}
	o := collectWriteOptions(opts)
	put := o.putOpts()

	oldIdx, newIdx := r.indexKeys(old), r.indexKeys(obj)
	oldClaims, newClaims := r.claimKeys(old), r.claimKeys(obj)
	added := diff(newClaims, oldClaims)

	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", rev)}
	then := []clientv3.Op{clientv3.OpPut(key, string(data), put...)}
	els := []clientv3.Op{clientv3.OpGet(key)}
	for _, ik := range newIdx {
		then = append(then, clientv3.OpPut(ik, string(data), put...))
	}
	for _, ik := range diff(oldIdx, newIdx) {
		then = append(then, clientv3.OpDelete(ik))
	}
	for _, c := range added {
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(c), "=", 0))
		then = append(then, clientv3.OpPut(c, key, put...))
		els = append(els, clientv3.OpGet(c))
	}
	for _, c := range diff(oldClaims, newClaims) {
		then = append(then, clientv3.OpDelete(c))
	}
	if o.lease != 0 {
		// Claims kept from before must follow the new lease too.
		for _, c := range diff(newClaims, added) {
			then = append(then, clientv3.OpPut(c, key, put...))
		}
	}
	cmps = append(cmps, o.fenceCmps()...)
	resp, err := s.txn(ctx, "update", r.Name, cmps, then, els)
	if err != nil {
		return nil, writeError(key, len(data), err)
	}
	if !resp.Succeeded {
		cur := rangeResult(resp, 0)
		if cur == nil {
			return nil, notFound(key)
		}
		if cur.ModRevision != rev {
			return cur, conflict(key, rev)
		}
		if err := claimError(key, added, resp, 1); err != nil {
			return cur, err
		}
		if len(o.fences) > 0 {
			return cur, fenced(key)
		}
		return cur, fmt.Errorf("%s: update failed for an unknown reason", key)
	}
	return nil, setRevision(obj, resp.Header.Revision)
}

// UpdateFunc computes the next state of an object from its current state.
// It receives a copy it may modify and return. Returning an error abandons
// the update with that error.
type UpdateFunc func(current runtime.Object) (runtime.Object, error)

// GuaranteedUpdate applies fn to the current state of the named object and
// writes the result, re-reading and re-applying fn until the write is not
// stale. A result identical to the current state writes nothing. suggestion,
// when not nil, is a recent copy of the object (from a cache) tried before
// reading etcd. It returns the object as stored.
func (s *Store) GuaranteedUpdate(ctx context.Context, r *Resource, namespace, name string, fn UpdateFunc, suggestion runtime.Object, opts ...WriteOption) (runtime.Object, error) {
	key := r.Key(namespace, name)
	var (
		cur     runtime.Object
		curData []byte // stored bytes of cur; nil when cur came from the suggestion
		err     error
	)
	if suggestion != nil {
		cur = suggestion
	} else if cur, curData, err = s.read(ctx, r, key); err != nil {
		return nil, err
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		next, err := fn(cur.DeepCopyObject())
		if err != nil {
			if curData == nil {
				// The suggestion may be stale, and fn refused it for that
				// (a resourceVersion precondition, say): judge the stored
				// state instead.
				if cur, curData, err = s.read(ctx, r, key); err != nil {
					return nil, err
				}
				continue
			}
			return nil, err
		}
		data, err := s.codec.encode(r, next)
		if err != nil {
			return nil, err
		}
		if curData != nil && bytes.Equal(data, curData) {
			return cur, nil
		}
		if curData == nil {
			// cur came from the suggestion: a no-op against it may not be one
			// against etcd, so confirm before writing nothing.
			if prev, err := s.codec.encode(r, cur.DeepCopyObject()); err == nil && bytes.Equal(data, prev) {
				if cur, curData, err = s.read(ctx, r, key); err != nil {
					return nil, err
				}
				continue
			}
		}
		kv, err := s.update(ctx, r, cur, next, data, opts)
		switch {
		case err == nil:
			return next, nil
		case errors.Is(err, ErrConflict) && kv != nil:
			cur = r.New()
			if err := s.codec.decode(kv.Value, cur, kv.ModRevision); err != nil {
				return nil, fmt.Errorf("decode %s: %w", key, err)
			}
			curData = kv.Value
		default:
			return nil, err
		}
	}
}
