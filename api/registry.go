package api

import (
	"fmt"
	"reflect"
	"sort"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/shepherd-lab/shepherd/storage"
)

// Resource describes one served resource.
type Resource struct {
	GroupVersion schema.GroupVersion
	Kind         string
	ListKind     string
	Plural       string
	Singular     string
	ShortNames   []string
	Categories   []string
	Namespaced   bool

	// Storage is how the resource is kept in etcd.
	Storage *storage.Resource

	// HasStatus: the resource has a status subresource, and writes to the
	// main resource leave status alone.
	HasStatus bool
	// StatusWritesMetadata: a write to the status subresource also writes
	// the metadata users own (labels, annotations, finalizers, owner
	// references), as Kubernetes' namespaces/status does; otherwise it
	// keeps them, as Kubernetes' ResetObjectMetaForStatus.
	StatusWritesMetadata bool
	// Scale, when set, serves the scale subresource.
	Scale *ScaleAccess
	// HasFinalize: the resource has a finalize subresource (namespaces):
	// a PUT to it replaces the object but its status, including what an
	// update of the main resource keeps (the strategy's PrepareForUpdate
	// is not applied; namespaces' spec.finalizers).
	HasFinalize bool
	// AllowCreateOnUpdate: a PUT of an object that does not exist creates it.
	AllowCreateOnUpdate bool
	s                   untypedStrategy
}

// ScaleAccess reads and writes what the scale subresource exposes.
type ScaleAccess struct {
	SpecReplicas   func(obj runtime.Object) int32
	SetReplicas    func(obj runtime.Object, n int32)
	StatusReplicas func(obj runtime.Object) int32
	// Selector returns the label selector, in its string form, of the pods
	// the object scales.
	Selector func(obj runtime.Object) string
}

// Strategy is a resource's behaviour on writes, typed by its object type.
// Every field is optional.
type Strategy[T runtime.Object] struct {
	// Default fills unset fields with Kubernetes' defaults.
	Default func(T)
	// PrepareForCreate resets what a client may not set on create (status,
	// typically).
	PrepareForCreate func(T)
	// PrepareForUpdate fixes what a write to the main resource may not
	// change beyond status, which is kept for resources with a status
	// subresource. A write to the finalize subresource skips it.
	PrepareForUpdate func(obj, old T)
	Validate         func(T) field.ErrorList
	ValidateUpdate   func(obj, old T) field.ErrorList
	// ValidateStatusUpdate validates a write to the status subresource.
	ValidateStatusUpdate func(obj, old T) field.ErrorList
	// ValidateFinalizeUpdate validates a write to the finalize
	// subresource (ValidateUpdate when unset).
	ValidateFinalizeUpdate func(obj, old T) field.ErrorList
	// Spec returns what metadata.generation counts changes of; nil means the
	// resource has no generation.
	Spec func(T) any
	// Fields returns the fields a field selector may match, beyond
	// metadata.name and metadata.namespace.
	Fields func(T) fields.Set
	// Claims returns the unique values (cluster IPs, node ports) the object
	// holds in storage.
	Claims func(T) []string
}

type untypedStrategy struct {
	defaults             func(runtime.Object)
	prepareForCreate     func(runtime.Object)
	prepareForUpdate     func(obj, old runtime.Object)
	validate             func(runtime.Object) field.ErrorList
	validateUpdate       func(obj, old runtime.Object) field.ErrorList
	validateStatusUpdate func(obj, old runtime.Object) field.ErrorList
	validateFinalize     func(obj, old runtime.Object) field.ErrorList
	spec                 func(runtime.Object) any
}

// define completes r with its storage description and strategy.
func define[T runtime.Object](r Resource, s Strategy[T]) *Resource {
	newObj := func() runtime.Object {
		var zero T
		return reflect.New(reflect.TypeOf(zero).Elem()).Interface().(runtime.Object)
	}
	gv := r.GroupVersion
	listType, ok := Scheme.AllKnownTypes()[gv.WithKind(r.ListKind)]
	if !ok {
		panic(fmt.Sprintf("api: %s %s is not in the scheme", gv, r.ListKind))
	}
	if r.Storage == nil {
		r.Storage = &storage.Resource{}
	}
	r.Storage.Name = r.Plural
	r.Storage.Kind = gv.WithKind(r.Kind)
	r.Storage.Namespaced = r.Namespaced
	r.Storage.New = newObj
	r.Storage.NewList = func() runtime.Object { return reflect.New(listType).Interface().(runtime.Object) }
	if s.Fields != nil {
		r.Storage.Fields = func(o runtime.Object) fields.Set { return s.Fields(o.(T)) }
	}
	if s.Claims != nil {
		r.Storage.Claims = func(o runtime.Object) []string { return s.Claims(o.(T)) }
	}
	if s.Default != nil {
		r.s.defaults = func(o runtime.Object) { s.Default(o.(T)) }
	}
	if s.PrepareForCreate != nil {
		r.s.prepareForCreate = func(o runtime.Object) { s.PrepareForCreate(o.(T)) }
	}
	if s.PrepareForUpdate != nil {
		r.s.prepareForUpdate = func(o, old runtime.Object) { s.PrepareForUpdate(o.(T), old.(T)) }
	}
	if s.Validate != nil {
		r.s.validate = func(o runtime.Object) field.ErrorList { return s.Validate(o.(T)) }
	}
	if s.ValidateUpdate != nil {
		r.s.validateUpdate = func(o, old runtime.Object) field.ErrorList { return s.ValidateUpdate(o.(T), old.(T)) }
	}
	if s.ValidateStatusUpdate != nil {
		r.s.validateStatusUpdate = func(o, old runtime.Object) field.ErrorList { return s.ValidateStatusUpdate(o.(T), old.(T)) }
	}
	if s.ValidateFinalizeUpdate != nil {
		r.s.validateFinalize = func(o, old runtime.Object) field.ErrorList { return s.ValidateFinalizeUpdate(o.(T), old.(T)) }
	}
	if s.Spec != nil {
		r.s.spec = func(o runtime.Object) any { return s.Spec(o.(T)) }
	}
	return &r
}

// GroupVersionKind returns the resource's kind.
func (r *Resource) GroupVersionKind() schema.GroupVersionKind { return r.GroupVersion.WithKind(r.Kind) }

// GroupVersionResource returns the resource's name in its group version.
func (r *Resource) GroupVersionResource() schema.GroupVersionResource {
	return r.GroupVersion.WithResource(r.Plural)
}

// GroupResource returns the group-qualified resource, e.g. deployments.apps.
func (r *Resource) GroupResource() schema.GroupResource {
	return schema.GroupResource{Group: r.GroupVersion.Group, Resource: r.Plural}
}

// GroupKind returns the group-qualified kind.
func (r *Resource) GroupKind() schema.GroupKind {
	return schema.GroupKind{Group: r.GroupVersion.Group, Kind: r.Kind}
}

// New returns an empty object of the resource.
func (r *Resource) New() runtime.Object { return r.Storage.New() }

// NewList returns an empty list of the resource.
func (r *Resource) NewList() runtime.Object { return r.Storage.NewList() }

// FieldLabels returns the field selector labels the resource supports.
func (r *Resource) FieldLabels() []string {
	set := r.Storage.FieldSet(r.New())
	labels := make([]string, 0, len(set))
	for k := range set {
		labels = append(labels, k)
	}
	sort.Strings(labels)
	return labels
}

// TracksGeneration reports whether the resource's objects have a
// metadata.generation counting spec changes.
func (r *Resource) TracksGeneration() bool { return r.s.spec != nil }

// Default applies the resource's defaults to obj.
func (r *Resource) Default(obj runtime.Object) {
	if r.s.defaults != nil {
		r.s.defaults(obj)
	}
}
