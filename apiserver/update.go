package apiserver

import (
	"context"
	"errors"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/storage"
)

// part is what of an object a write replaces, by the path it came
// through.
type part int

const (
	// objectPart: the object, but its status for resources with a status
	// subresource.
	objectPart part = iota
	// statusPart: the status subresource.
	statusPart
	// finalizePart: the finalize subresource (api.Resource.HasFinalize).
	finalizePart
)

// update serves PUT of an object, of its status or of its finalize
// subresource.
func (s *Server) update(w http.ResponseWriter, r *http.Request, res *api.Resource, info requestInfo, p part) error {
	wr, err := parseWrite(w, r)
	if err != nil {
		return err
	}
	body, err := wr.decode(res.GroupVersionKind(), res.New())
	if err != nil {
		return err
	}
	if _, err := checkNamespaceAndName(body, res, info, true); err != nil {
		return err
	}
	out, created, err := s.updateObject(r.Context(), res, updateRequest{
		info:          info,
		mutate:        func(cur runtime.Object) (runtime.Object, error) { return body.DeepCopyObject(), nil },
		part:          p,
		dryRun:        wr.dryRun,
		createMissing: res.AllowCreateOnUpdate && p == objectPart,
		manager:       wr.manager,
	})
	if err != nil {
		return err
	}
	code := http.StatusOK
	if created {
		code = http.StatusCreated
	}
	writeObject(w, r, code, out)
	return nil
}

// mutation computes a client's intended next state of an object from its
// current state: the body of a PUT, or a patch applied to the current state.
type mutation func(cur runtime.Object) (runtime.Object, error)

// updateRequest is a write to an existing object.
type updateRequest struct {
	info   requestInfo
	mutate mutation
	// part: what the write replaces.
	part   part
	dryRun bool
	// createMissing creates a missing object from the mutation's result
	// (PUT of resources that allow it, server-side apply).
	createMissing bool
	// manager is who the change is attributed to in managedFields.
	manager string
	// applied: the mutation is a server-side apply, which has recorded
	// managedFields itself.
	applied bool
}

// updateObject applies a mutation under the compare-and-swap loop: the
// intended state is checked against a resourceVersion precondition,
// prepared and validated as an update of the main resource or of a
// subresource,
// its managed fields recorded, given the service allocations it needs, and
// written. An object whose last finalizer the write removed while it was
// being deleted is then deleted.
func (s *Server) updateObject(ctx context.Context, res *api.Resource, u updateRequest) (runtime.Object, bool, error) {
	info := u.info
	fm := s.fields[res].of(u.part == statusPart)
	for attempt := 0; ; attempt++ {
		var auto allocation
		var attempted runtime.Object // the last state fn produced
		fn := func(cur runtime.Object) (runtime.Object, error) {
			next, err := u.mutate(cur)
			if err != nil {
				return nil, err
			}
			m, om, err := metaPair(next, cur)
			if err != nil {
				return nil, err
			}
			if rv := m.GetResourceVersion(); rv != "" && rv != om.GetResourceVersion() {
				return nil, apierrors.NewConflict(res.GroupResource(), info.Name, errors.New(registryConflictMessage))
			}
			m.SetResourceVersion(om.GetResourceVersion())
			switch u.part {
			case statusPart:
				err = s.admission.UpdateStatus(ctx, res, next, cur)
			case finalizePart:
				err = s.admission.UpdateFinalize(ctx, res, next, cur)
			default:
				err = s.admission.Update(ctx, res, next, cur)
			}
			if err != nil {
				return nil, err
			}
			if !u.applied {
				next = fm.UpdateNoErrors(cur, next, u.manager)
			}
			if svc, ok := next.(*corev1.Service); ok && u.part == objectPart {
				if auto, err = s.allocateService(ctx, svc, cur.(*corev1.Service), attempt); err != nil {
					return nil, err
				}
			}
			attempted = next
			return next, nil
		}
		var out runtime.Object
		var err error
		if u.dryRun {
			var cur runtime.Object
			if cur, err = s.store.Get(ctx, res.Storage, info.Namespace, info.Name); err == nil {
				out, err = fn(cur)
			}
		} else {
			var suggestion runtime.Object
			if e := s.caches[res].Peek(info.Namespace, info.Name); e != nil {
				suggestion = e.Object
			}
			out, err = s.store.GuaranteedUpdate(ctx, res.Storage, info.Namespace, info.Name, fn, suggestion)
		}
		if storage.IsNotFound(err) && u.createMissing {
			obj, err := u.mutate(res.New())
			if err != nil {
				return nil, false, err
			}
			if m, err := meta.Accessor(obj); err == nil {
				m.SetResourceVersion("")
			}
			manager := u.manager
			if u.applied {
				manager = ""
			}
			created, err := s.createObject(ctx, res, obj, createOptions{dryRun: u.dryRun, manager: manager})
			if err != nil {
				return nil, false, err
			}
			return created, true, nil
		}
		if retry, cerr := claimTaken(err, attempted, auto); retry && attempt < maxAllocationAttempts {
			continue
		} else if cerr != nil {
			return nil, false, storageError(cerr, res, info.Name)
		}
		out.GetObjectKind().SetGroupVersionKind(res.GroupVersionKind())
		if !u.dryRun {
			if err := s.finishDeletion(ctx, res, out); err != nil {
				return nil, false, err
			}
		}
		return out, false, nil
	}
}

// finishDeletion deletes an object that is being deleted, has no grace
// period left and no finalizers: the write that removed its last finalizer
// completes its deletion, as in Kubernetes.
func (s *Server) finishDeletion(ctx context.Context, res *api.Resource, obj runtime.Object) error {
	m, err := meta.Accessor(obj)
	if err != nil || m.GetDeletionTimestamp() == nil || len(m.GetFinalizers()) > 0 {
		return err
	}
	if ns, ok := obj.(*corev1.Namespace); ok && len(ns.Spec.Finalizers) > 0 {
		return nil // the namespace controller finalizes it
	}
	if g := m.GetDeletionGracePeriodSeconds(); g != nil && *g > 0 {
		return nil
	}
	uid, rv := m.GetUID(), m.GetResourceVersion()
	_, err = s.store.Delete(ctx, res.Storage, m.GetNamespace(), m.GetName(), &storage.Preconditions{UID: &uid, ResourceVersion: &rv})
	if err != nil && !storage.IsNotFound(err) && !storage.IsConflict(err) {
		return storageError(err, res, m.GetName())
	}
	if err == nil {
		s.events.objectDeleted(res, obj, true)
	}
	return nil
}

func metaPair(obj, old runtime.Object) (m, om metaObject, err error) {
	if m, err = meta.Accessor(obj); err != nil {
		return nil, nil, apierrors.NewBadRequest(err.Error())
	}
	if om, err = meta.Accessor(old); err != nil {
		return nil, nil, apierrors.NewInternalError(err)
	}
	return m, om, nil
}
