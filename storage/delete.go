package storage

import (
	"context"
	"errors"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
)

// Preconditions must hold for a delete to proceed.
type Preconditions struct {
	UID             *types.UID
	ResourceVersion *string
}

func (p *Preconditions) check(key string, obj runtime.Object) error {
	if p == nil {
		return nil
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	if p.UID != nil && *p.UID != m.GetUID() {
		return &PreconditionError{Key: key, Message: fmt.Sprintf("Precondition failed: UID in precondition: %v, UID in object meta: %v", *p.UID, m.GetUID())}
	}
	if p.ResourceVersion != nil && *p.ResourceVersion != m.GetResourceVersion() {
		return &PreconditionError{Key: key, Message: fmt.Sprintf("Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *p.ResourceVersion, m.GetResourceVersion())}
	}
	return nil
}

// Check returns a *PreconditionError when obj does not satisfy p.
func (p *Preconditions) Check(key string, obj runtime.Object) error { return p.check(key, obj) }

// PreconditionError reports a precondition that did not hold. It wraps
// ErrConflict.
type PreconditionError struct {
	Key     string
	Message string
}

func (e *PreconditionError) Error() string { return e.Key + ": " + e.Message }
func (e *PreconditionError) Unwrap() error { return ErrConflict }

// Delete removes the named object with its index entries and claims, after
// checking pre against its current state (re-checked if the object changes
// under the delete). It returns the object's last state.
//
// Transaction: If(ModRevision(key)==rev)
// Then(Delete(key), Delete(index...), Delete(claim...)) Else(Get(key)).
func (s *Store) Delete(ctx context.Context, r *Resource, namespace, name string, pre *Preconditions, opts ...WriteOption) (runtime.Object, error) {
	var o writeOptions
	for _, opt := range opts {
		opt(&o)
	}
	key := r.Key(namespace, name)
	cur, _, err := s.read(ctx, r, key)
	if err != nil {
		return nil, err
	}
	for {
		if err := pre.check(key, cur); err != nil {
			return nil, err
		}
		rev, err := Revision(cur)
		if err != nil {
			return nil, err
		}
		then := []clientv3.Op{clientv3.OpDelete(key)}
		for _, k := range r.indexKeys(cur) {
			then = append(then, clientv3.OpDelete(k))
		}
		for _, k := range r.claimKeys(cur) {
			then = append(then, clientv3.OpDelete(k))
		}
		cmps := append([]clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", rev)}, o.fenceCmps()...)
		resp, err := s.txn(ctx, "delete", r.Name, cmps, then, []clientv3.Op{clientv3.OpGet(key)})
		if err != nil {
			return nil, etcdError(key, err)
		}
		if resp.Succeeded {
			return cur, nil
		}
		kv := rangeResult(resp, 0)
		if kv == nil {
			return nil, notFound(key)
		}
		if kv.ModRevision == rev && len(o.fences) > 0 {
			return nil, fenced(key)
		}
		cur = r.New()
		if err := s.codec.decode(kv.Value, cur, kv.ModRevision); err != nil {
			return nil, fmt.Errorf("decode %s: %w", key, err)
		}
	}
}

// IsNotFound reports whether err is, or wraps, ErrNotFound.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// IsConflict reports whether err is, or wraps, ErrConflict.
func IsConflict(err error) bool { return errors.Is(err, ErrConflict) }
