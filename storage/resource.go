package storage

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Root is the prefix of every key Shepherd writes for API objects.
const Root = "/registry/"

// Resource describes how objects of one kind are kept in etcd.
type Resource struct {
	// Name is the key segment: objects live under /registry/<Name>/.
	Name string
	// Kind is written into each stored object's envelope.
	Kind schema.GroupVersionKind
	// Namespaced resources have a namespace segment in their keys.
	Namespaced bool
	// New returns an empty object (e.g. &corev1.Pod{}).
	New func() runtime.Object
	// NewList returns an empty list (e.g. &corev1.PodList{}).
	NewList func() runtime.Object
	// Fields returns the fields a field selector can match beyond
	// metadata.name and metadata.namespace, which every resource has.
	Fields func(obj runtime.Object) fields.Set
	// Indexes mirror objects under extra keys, written in the same
	// transaction as the object.
	Indexes []Index
	// Claims returns the unique claims an object holds while it exists.
	Claims func(obj runtime.Object) []string
}

// Index mirrors objects under /registry/<resource>-by-<Name>/<value>/.
type Index struct {
	Name string
	// Value returns obj's value for the index; "" means obj is not indexed.
	Value func(obj runtime.Object) string
}

// Key returns the key of the named object.
func (r *Resource) Key(namespace, name string) string {
	if r.Namespaced {
		return Root + r.Name + "/" + namespace + "/" + name
	}
	return Root + r.Name + "/" + name
}

// Prefix returns the prefix under which the objects of a namespace live, or
// all objects when namespace is "" (always, for cluster-scoped resources).
func (r *Resource) Prefix(namespace string) string {
	if r.Namespaced && namespace != "" {
		return Root + r.Name + "/" + namespace + "/"
	}
	return Root + r.Name + "/"
}

func (r *Resource) index(name string) (*Index, error) {
	for i := range r.Indexes {
		if r.Indexes[i].Name == name {
			return &r.Indexes[i], nil
		}
	}
	return nil, fmt.Errorf("resource %s has no index %q", r.Name, name)
}

// IndexPrefix returns the prefix of the index entries with the given value.
func (r *Resource) IndexPrefix(index, value string) string {
	return Root + r.Name + "-by-" + index + "/" + value + "/"
}

func (r *Resource) indexKey(idx *Index, value, namespace, name string) string {
	if r.Namespaced {
		return r.IndexPrefix(idx.Name, value) + namespace + "/" + name
	}
	return r.IndexPrefix(idx.Name, value) + name
}

// indexKeys returns every index key obj is mirrored under.
func (r *Resource) indexKeys(obj runtime.Object) []string {
	if obj == nil || len(r.Indexes) == 0 {
		return nil
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil
	}
	var keys []string
	for i := range r.Indexes {
		if v := r.Indexes[i].Value(obj); v != "" {
			keys = append(keys, r.indexKey(&r.Indexes[i], v, m.GetNamespace(), m.GetName()))
		}
	}
	return keys
}

// ClaimKey returns the key that holds a claim.
func ClaimKey(claim string) string { return Root + "claims/" + claim }

func (r *Resource) claimKeys(obj runtime.Object) []string {
	if obj == nil || r.Claims == nil {
		return nil
	}
	claims := r.Claims(obj)
	keys := make([]string, 0, len(claims))
	seen := make(map[string]bool, len(claims))
	for _, c := range claims {
		if !seen[c] {
			seen[c] = true
			keys = append(keys, ClaimKey(c))
		}
	}
	return keys
}

// Predicate selects objects by labels and fields. The zero value selects
// everything.
type Predicate struct {
	Label labels.Selector
	Field fields.Selector
}

// Everything reports whether the predicate selects every object.
func (p Predicate) Everything() bool {
	return (p.Label == nil || p.Label.Empty()) && (p.Field == nil || p.Field.Empty())
}

// Matches reports whether obj, an object of resource r, is selected.
func (p Predicate) Matches(r *Resource, obj runtime.Object) bool {
	if p.Everything() {
		return true
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return false
	}
	if p.Label != nil && !p.Label.Empty() && !p.Label.Matches(labels.Set(m.GetLabels())) {
		return false
	}
	if p.Field != nil && !p.Field.Empty() {
		return p.Field.Matches(r.FieldSet(obj))
	}
	return true
}

// FieldSet returns every field of obj a field selector can match.
func (r *Resource) FieldSet(obj runtime.Object) fields.Set {
	set := fields.Set{}
	if r.Fields != nil {
		set = r.Fields(obj)
	}
	if m, err := meta.Accessor(obj); err == nil {
		set["metadata.name"] = m.GetName()
		if r.Namespaced {
			set["metadata.namespace"] = m.GetNamespace()
		}
	}
	return set
}

// splitKey returns the namespace and name encoded in the key suffix after a
// resource or index prefix.
func (r *Resource) splitKey(suffix string) (namespace, name string) {
	if r.Namespaced {
		if i := strings.IndexByte(suffix, '/'); i >= 0 {
			return suffix[:i], suffix[i+1:]
		}
	}
	return "", suffix
}
