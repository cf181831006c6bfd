package storage

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// Typed is a view of a Store for one resource whose objects have type T
// (e.g. *corev1.Pod), so callers need no type assertions.
type Typed[T runtime.Object] struct {
	Store    *Store
	Resource *Resource
}

// NewTyped returns the typed view of resource r. r.New must return a T.
func NewTyped[T runtime.Object](s *Store, r *Resource) Typed[T] {
	if _, ok := r.New().(T); !ok {
		panic(fmt.Sprintf("storage: resource %s does not hold %T", r.Name, *new(T)))
	}
	return Typed[T]{Store: s, Resource: r}
}

// Get returns the named object.
func (t Typed[T]) Get(ctx context.Context, namespace, name string) (T, error) {
	obj, err := t.Store.Get(ctx, t.Resource, namespace, name)
	if err != nil {
		var zero T
		return zero, err
	}
	return obj.(T), nil
}

// Create stores obj and sets its resourceVersion.
func (t Typed[T]) Create(ctx context.Context, obj T, opts ...WriteOption) error {
	return t.Store.Create(ctx, t.Resource, obj, opts...)
}

// Update writes obj over old (see Store.Update).
func (t Typed[T]) Update(ctx context.Context, old, obj T, opts ...WriteOption) error {
	return t.Store.Update(ctx, t.Resource, old, obj, opts...)
}

// GuaranteedUpdate applies fn until it lands (see Store.GuaranteedUpdate).
func (t Typed[T]) GuaranteedUpdate(ctx context.Context, namespace, name string, fn func(T) (T, error), opts ...WriteOption) (T, error) {
	obj, err := t.Store.GuaranteedUpdate(ctx, t.Resource, namespace, name, func(cur runtime.Object) (runtime.Object, error) {
		return fn(cur.(T))
	}, nil, opts...)
	if err != nil {
		var zero T
		return zero, err
	}
	return obj.(T), nil
}

// Delete removes the named object and returns its last state.
func (t Typed[T]) Delete(ctx context.Context, namespace, name string, pre *Preconditions, opts ...WriteOption) (T, error) {
	obj, err := t.Store.Delete(ctx, t.Resource, namespace, name, pre, opts...)
	if err != nil {
		var zero T
		return zero, err
	}
	return obj.(T), nil
}

// List returns every object opts select, following continue tokens, and the
// revision the list was read at.
func (t Typed[T]) List(ctx context.Context, opts ListOptions) ([]T, int64, error) {
	var items []T
	for {
		page, err := t.Store.List(ctx, t.Resource, opts)
		if err != nil {
			return nil, 0, err
		}
		for _, o := range page.Items {
			items = append(items, o.(T))
		}
		if page.Continue == "" {
			return items, page.Revision, nil
		}
		opts.Continue = page.Continue
	}
}

// Watch streams changes (see Store.Watch).
func (t Typed[T]) Watch(ctx context.Context, opts WatchOptions) (watch.Interface, error) {
	return t.Store.Watch(ctx, t.Resource, opts)
}
