// Package admission decides what an object must look like before it is
// stored, and whether it may be, for every write of every component: the
// apiserver's handlers, the controllers, the scheduler and the kubelet all
// prepare their writes here, so an object is admitted identically whoever
// writes it.
//
// A write passes Kubernetes' admission plugins that Shepherd has
// (NamespaceLifecycle, Priority, DefaultTolerationSeconds, and
// ShepherdAdmissionSettings, which guards the settings themselves) around
// the resource's own strategy (api.Resource's BeforeCreate, BeforeUpdate,
// BeforeStatusUpdate: server metadata, defaults, validation), in
// kube-apiserver's order: mutating plugins, then the strategy, then
// validating plugins.
//
// What the plugins read of the cluster comes from a Cluster: the apiserver
// answers from its watch caches, other components from Follow's informers.
// The cluster-wide settings (Settings) live in etcd, in the ConfigMap
// kube-system/shepherd-admission that the apiserver writes from its flags
// at start; every writer follows it, so no component carries a copy of
// another's flags.
package admission

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/shepherd-lab/shepherd/api"
)

// Operation is what a write does, as Kubernetes' admission names it.
type Operation string

// The operations.
const (
	Create Operation = "CREATE"
	Update Operation = "UPDATE"
	Delete Operation = "DELETE"
)

// Attributes describe one write.
type Attributes struct {
	Operation Operation
	Resource  *api.Resource
	// Subresource is "" for the resource itself, else "status",
	// "binding", "scale", ...
	Subresource string
	// Namespace and Name of the object written. For a create they are
	// read from Object when empty; Name may still be empty (generateName).
	Namespace, Name string
	// Object is the object as it will be stored (nil for a delete); the
	// mutating plugins may change it. OldObject is the stored object, for
	// updates and deletes when the caller has it.
	Object, OldObject runtime.Object
}

// name is the object's name, or its generateName before one is generated,
// for messages.
func (a *Attributes) name() string {
	if a.Name != "" {
		return a.Name
	}
	if m, err := meta.Accessor(a.Object); err == nil && a.Object != nil {
		if m.GetName() != "" {
			return m.GetName()
		}
		return m.GetGenerateName()
	}
	return ""
}

// forbidden is Kubernetes' admission refusal: 403 naming the object.
func (a *Attributes) forbidden(err error) *apierrors.StatusError {
	return apierrors.NewForbidden(a.Resource.GroupResource(), a.name(), err)
}

// Admission admits writes against one Cluster. It is safe for concurrent
// use.
type Admission struct {
	cluster Cluster
}

// New returns an Admission that reads the cluster through c.
func New(c Cluster) *Admission { return &Admission{cluster: c} }

// Settings returns the cluster's current admission settings.
func (a *Admission) Settings() Settings { return a.cluster.Settings() }

// Create prepares obj, a new object of res, to be stored: mutating
// plugins, then res.BeforeCreate (server metadata, defaults, validation),
// then validating plugins. The error is a Kubernetes StatusError (403 for
// a refusal, 404 for a missing namespace, 422 for an invalid object).
func (a *Admission) Create(ctx context.Context, res *api.Resource, obj runtime.Object) error {
	m, err := meta.Accessor(obj)
	if err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	attrs := &Attributes{Operation: Create, Resource: res, Namespace: m.GetNamespace(), Object: obj}
	if !res.Namespaced {
		attrs.Namespace = ""
	}
	if err := a.mutate(ctx, attrs); err != nil {
		return err
	}
	if err := res.BeforeCreate(obj); err != nil {
		return err
	}
	attrs.Name = m.GetName()
	return a.validate(ctx, attrs)
}

// Update prepares obj, a replacement for old, to be stored: plugins around
// res.BeforeUpdate. obj must carry old's resourceVersion.
func (a *Admission) Update(ctx context.Context, res *api.Resource, obj, old runtime.Object) error {
	return a.update(ctx, res, "", obj, old, res.BeforeUpdate)
}

// UpdateStatus prepares obj, a write to old's status subresource, to be
// stored: plugins around res.BeforeStatusUpdate.
func (a *Admission) UpdateStatus(ctx context.Context, res *api.Resource, obj, old runtime.Object) error {
	return a.update(ctx, res, "status", obj, old, res.BeforeStatusUpdate)
}

// UpdateFinalize prepares obj, a write to old's finalize subresource (a
// namespace's spec.finalizers), to be stored: plugins around
// res.BeforeFinalizeUpdate.
func (a *Admission) UpdateFinalize(ctx context.Context, res *api.Resource, obj, old runtime.Object) error {
	return a.update(ctx, res, "finalize", obj, old, res.BeforeFinalizeUpdate)
}

func (a *Admission) update(ctx context.Context, res *api.Resource, sub string, obj, old runtime.Object, strategy func(obj, old runtime.Object) error) error {
	m, err := meta.Accessor(old)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	attrs := &Attributes{Operation: Update, Resource: res, Subresource: sub,
		Namespace: m.GetNamespace(), Name: m.GetName(), Object: obj, OldObject: old}
	if err := a.mutate(ctx, attrs); err != nil {
		return err
	}
	if err := strategy(obj, old); err != nil {
		return err
	}
	return a.validate(ctx, attrs)
}

// Delete says whether the object may be deleted (old, when the caller has
// it, is the stored object).
func (a *Admission) Delete(ctx context.Context, res *api.Resource, namespace, name string, old runtime.Object) error {
	attrs := &Attributes{Operation: Delete, Resource: res, Namespace: namespace, Name: name, OldObject: old}
	if err := a.mutate(ctx, attrs); err != nil {
		return err
	}
	return a.validate(ctx, attrs)
}

// Admit runs the plugins alone, for writes no resource strategy prepares
// (a pods/binding, a scale): attrs.Object may be changed by the mutating
// plugins.
func (a *Admission) Admit(ctx context.Context, attrs *Attributes) error {
	if err := a.mutate(ctx, attrs); err != nil {
		return err
	}
	return a.validate(ctx, attrs)
}

// plugin is one admission plugin: mutate runs before the resource's
// strategy, validate after it; either may be nil.
type plugin struct {
	name             string
	mutate, validate func(ctx context.Context, c Cluster, a *Attributes) error
}

// plugins in kube-apiserver's order.
var plugins = []plugin{
	{name: "NamespaceLifecycle", mutate: namespaceLifecycle},
	{name: "Priority", mutate: priority},
	{name: "DefaultTolerationSeconds", mutate: defaultTolerationSeconds},
	{name: "ShepherdAdmissionSettings", validate: validateSettings},
}

func (a *Admission) mutate(ctx context.Context, attrs *Attributes) error {
	for _, p := range plugins {
		if p.mutate != nil {
			if err := p.mutate(ctx, a.cluster, attrs); err != nil {
				return err
			}
		}
	}
	return nil
}

func (a *Admission) validate(ctx context.Context, attrs *Attributes) error {
	for _, p := range plugins {
		if p.validate != nil {
			if err := p.validate(ctx, a.cluster, attrs); err != nil {
				return err
			}
		}
	}
	return nil
}

// Binding returns the attributes of binding a pod to a node (a create of
// pods/binding, as the scheduler or a client does it).
func Binding(b *corev1.Binding, namespace string) *Attributes {
	return &Attributes{Operation: Create, Resource: api.Pods, Subresource: "binding", Namespace: namespace, Name: b.Name, Object: b}
}
