package storage

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
)

// Get returns the named object. It fails with ErrNotFound when there is none.
func (s *Store) Get(ctx context.Context, r *Resource, namespace, name string) (runtime.Object, error) {
	obj, _, err := s.read(ctx, r, r.Key(namespace, name))
	return obj, err
}

// read returns the object at key and its stored bytes.
func (s *Store) read(ctx context.Context, r *Resource, key string) (runtime.Object, []byte, error) {
	start := time.Now()
	resp, err := s.client.Get(ctx, key)
	s.metrics.observe("get", r.Name, start)
	if err != nil {
		return nil, nil, etcdError(key, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, nil, notFound(key)
	}
	kv := resp.Kvs[0]
	obj := r.New()
	if err := s.codec.decode(kv.Value, obj, kv.ModRevision); err != nil {
		return nil, nil, fmt.Errorf("decode %s: %w", key, err)
	}
	return obj, kv.Value, nil
}
