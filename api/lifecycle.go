package api

import (
	"reflect"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// generateNameSuffix is the length of the random suffix of a generated
// name, as Kubernetes makes it.
const generateNameSuffix = 5

// BeforeCreate makes obj ready to be stored as a new object: it fills the
// metadata the server owns (uid, creationTimestamp, a generated name,
// generation), applies defaults and the create strategy, and validates the
// result. A refusal is a 422 Invalid StatusError with one cause per field.
func (r *Resource) BeforeCreate(obj runtime.Object) error {
	m, err := meta.Accessor(obj)
	if err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	if !r.Namespaced {
		m.SetNamespace("")
	}
	if m.GetResourceVersion() != "" {
		return apierrors.NewBadRequest("resourceVersion should not be set on objects to be created")
	}
	if m.GetName() == "" && m.GetGenerateName() != "" {
		m.SetName(m.GetGenerateName() + utilrand.String(generateNameSuffix))
	}
	m.SetUID(uuid.NewUUID())
	m.SetCreationTimestamp(metav1.Now())
	m.SetDeletionTimestamp(nil)
	m.SetDeletionGracePeriodSeconds(nil)
	m.SetSelfLink("")
	if r.TracksGeneration() {
		m.SetGeneration(1)
	} else {
		m.SetGeneration(0)
	}
	r.Default(obj)
	if r.s.prepareForCreate != nil {
		r.s.prepareForCreate(obj)
	}
	if r.s.validate != nil {
		if errs := r.s.validate(obj); len(errs) > 0 {
			return apierrors.NewInvalid(r.GroupKind(), m.GetName(), errs)
		}
	}
	return nil
}

// BeforeUpdate makes obj, a client's replacement for old, ready to be
// stored: server-owned metadata is carried over from old, status is kept for
// resources with a status subresource, generation counts a spec change, and
// the result is validated against old. obj must carry old's
// resourceVersion (the caller sets it for unconditional updates).
func (r *Resource) BeforeUpdate(obj, old runtime.Object) error {
	return r.beforeUpdate(obj, old, r.s.prepareForUpdate, r.s.validateUpdate)
}

// BeforeFinalizeUpdate makes obj, a client's write to old's finalize
// subresource, ready to be stored: as BeforeUpdate, but without the
// strategy's PrepareForUpdate, so that what only this subresource may
// change (a namespace's spec.finalizers) is taken from obj, and validated
// by ValidateFinalizeUpdate, or else ValidateUpdate.
func (r *Resource) BeforeFinalizeUpdate(obj, old runtime.Object) error {
	validate := r.s.validateFinalize
	if validate == nil {
		validate = r.s.validateUpdate
	}
	return r.beforeUpdate(obj, old, nil, validate)
}

func (r *Resource) beforeUpdate(obj, old runtime.Object, prepare func(obj, old runtime.Object), validate func(obj, old runtime.Object) field.ErrorList) error {
	m, om, err := accessors(obj, old)
	if err != nil {
		return err
	}
	r.keepServerMeta(m, om)
	r.Default(obj)
	if r.HasStatus {
		copyField(obj, old, "Status")
	}
	if prepare != nil {
		prepare(obj, old)
	}
	if r.TracksGeneration() && !apiequality.Semantic.DeepEqual(r.s.spec(obj), r.s.spec(old)) {
		m.SetGeneration(om.GetGeneration() + 1)
	}
	var errs field.ErrorList
	if validate != nil {
		errs = validate(obj, old)
	}
	if len(errs) > 0 {
		return apierrors.NewInvalid(r.GroupKind(), m.GetName(), errs)
	}
	return nil
}

// BeforeStatusUpdate makes obj, a client's write to old's status
// subresource, ready to be stored: everything but status (and managed
// fields, and the metadata users own for resources whose status writes
// it) is carried over from old, then the result is validated.
func (r *Resource) BeforeStatusUpdate(obj, old runtime.Object) error {
	m, om, err := accessors(obj, old)
	if err != nil {
		return err
	}
	r.keepServerMeta(m, om)
	if !r.StatusWritesMetadata {
		// As Kubernetes' ResetObjectMetaForStatus: a status write changes
		// no metadata a user or controller owns.
		m.SetLabels(om.GetLabels())
		m.SetAnnotations(om.GetAnnotations())
		m.SetFinalizers(om.GetFinalizers())
		m.SetOwnerReferences(om.GetOwnerReferences())
	}
	copyField(obj, old, "Spec")
	var errs field.ErrorList
	switch {
	case r.s.validateStatusUpdate != nil:
		errs = r.s.validateStatusUpdate(obj, old)
	case r.s.validateUpdate != nil:
		errs = r.s.validateUpdate(obj, old)
	}
	if len(errs) > 0 {
		return apierrors.NewInvalid(r.GroupKind(), m.GetName(), errs)
	}
	return nil
}

// keepServerMeta carries over the metadata only the server sets.
func (r *Resource) keepServerMeta(m, om metav1.Object) {
	if !r.Namespaced {
		m.SetNamespace("")
	}
	if m.GetUID() == "" {
		m.SetUID(om.GetUID())
	}
	m.SetCreationTimestamp(om.GetCreationTimestamp())
	m.SetDeletionTimestamp(om.GetDeletionTimestamp())
	m.SetDeletionGracePeriodSeconds(om.GetDeletionGracePeriodSeconds())
	m.SetGeneration(om.GetGeneration())
	m.SetSelfLink("")
}

func accessors(obj, old runtime.Object) (metav1.Object, metav1.Object, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, nil, apierrors.NewBadRequest(err.Error())
	}
	om, err := meta.Accessor(old)
	if err != nil {
		return nil, nil, apierrors.NewInternalError(err)
	}
	return m, om, nil
}

// copyField sets dst's struct field name to a copy of src's, when the type
// has it.
func copyField(dst, src runtime.Object, name string) {
	d := reflect.ValueOf(dst).Elem().FieldByName(name)
	s := reflect.ValueOf(src.DeepCopyObject()).Elem().FieldByName(name)
	if d.IsValid() && s.IsValid() && d.CanSet() {
		d.Set(s)
	}
}
