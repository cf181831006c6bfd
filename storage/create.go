package storage

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
)

// Create stores a new object and sets its resourceVersion. The object must
// not carry a resourceVersion. It fails with ErrAlreadyExists when the key is
// taken, with a *ClaimedError when one of its claims is held, and with a
// *TooLargeError (ErrRequestTooLarge) when the object is too large to store.
//
// Transaction: If(ModRevision(key)==0, ModRevision(claim)==0 ...)
// Then(Put(key), Put(index...), Put(claim...)) Else(Get(key), Get(claim...)).
func (s *Store) Create(ctx context.Context, r *Resource, obj runtime.Object, opts ...WriteOption) error {
	m, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	key := r.Key(m.GetNamespace(), m.GetName())
	if m.GetResourceVersion() != "" {
		return fmt.Errorf("%s: resourceVersion should not be set on objects to be created", key)
	}
	data, err := s.codec.encode(r, obj)
	if err != nil {
		return err
	}
	if err := checkSize(key, data); err != nil {
		return err
	}
	o := collectWriteOptions(opts)
	put := o.putOpts()
	claims := r.claimKeys(obj)

	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", 0)}
	then := []clientv3.Op{clientv3.OpPut(key, string(data), put...)}
	els := []clientv3.Op{clientv3.OpGet(key)}
	for _, ik := range r.indexKeys(obj) {
		then = append(then, clientv3.OpPut(ik, string(data), put...))
	}
	for _, c := range claims {
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(c), "=", 0))
		then = append(then, clientv3.OpPut(c, key, put...))
		els = append(els, clientv3.OpGet(c))
	}
	cmps = append(cmps, o.fenceCmps()...)
	resp, err := s.txn(ctx, "create", r.Name, cmps, then, els)
	if err != nil {
		return writeError(key, len(data), err)
	}
	if !resp.Succeeded {
		if rangeResult(resp, 0) != nil {
			return alreadyExists(key)
		}
		if err := claimError(key, claims, resp, 1); err != nil {
			return err
		}
		if len(o.fences) > 0 {
			return fenced(key)
		}
		return fmt.Errorf("%s: create failed for an unknown reason", key)
	}
	return setRevision(obj, resp.Header.Revision)
}

// CreateMany stores several new objects of r in one transaction: all of
// them or, when any key is taken, none (ErrAlreadyExists). It is for
// writes that come in bursts and need no claims, such as events. etcd
// bounds a transaction's operations (--max-txn-ops, 128 by default), so
// batches must stay below that, index entries included.
//
// Transaction: If(ModRevision(key)==0 ...) Then(Put(key), Put(index...) ...).
func (s *Store) CreateMany(ctx context.Context, r *Resource, objs []runtime.Object, opts ...WriteOption) error {
	if r.Claims != nil {
		return fmt.Errorf("%s: CreateMany does not take claims", r.Name)
	}
	o := collectWriteOptions(opts)
	put := o.putOpts()
	var cmps []clientv3.Cmp
	var then []clientv3.Op
	size := 0
	for _, obj := range objs {
		m, err := meta.Accessor(obj)
		if err != nil {
			return err
		}
		key := r.Key(m.GetNamespace(), m.GetName())
		if m.GetResourceVersion() != "" {
			return fmt.Errorf("%s: resourceVersion should not be set on objects to be created", key)
		}
		data, err := s.codec.encode(r, obj)
		if err != nil {
			return err
		}
		if err := checkSize(key, data); err != nil {
			return err
		}
		size += len(data)
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(key), "=", 0))
		then = append(then, clientv3.OpPut(key, string(data), put...))
		for _, ik := range r.indexKeys(obj) {
			then = append(then, clientv3.OpPut(ik, string(data), put...))
		}
	}
	resp, err := s.txn(ctx, "create", r.Name, cmps, then, nil)
	if err != nil {
		return writeError(r.Prefix(""), size, err)
	}
	if !resp.Succeeded {
		return fmt.Errorf("%s: one of %d keys: %w", r.Prefix(""), len(objs), ErrAlreadyExists)
	}
	for _, obj := range objs {
		if err := setRevision(obj, resp.Header.Revision); err != nil {
			return err
		}
	}
	return nil
}
