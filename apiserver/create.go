package apiserver

import (
	"context"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/storage"
)

// create serves POST of a new object.
func (s *Server) create(w http.ResponseWriter, r *http.Request, res *api.Resource, info requestInfo) error {
	if res.Namespaced && info.Namespace == "" {
		return methodNotAllowed()
	}
	wr, err := parseWrite(w, r)
	if err != nil {
		return err
	}
	obj, err := wr.decode(res.GroupVersionKind(), res.New())
	if err != nil {
		return err
	}
	if _, err := checkNamespaceAndName(obj, res, info, false); err != nil {
		return err
	}
	created, err := s.createObject(r.Context(), res, obj, createOptions{dryRun: wr.dryRun, manager: wr.manager})
	if err != nil {
		return err
	}
	writeObject(w, r, http.StatusCreated, created)
	return nil
}

// createOptions qualify a create.
type createOptions struct {
	dryRun bool
	// manager is who the object's fields are attributed to in
	// managedFields; "" when the caller has recorded them already (a
	// server-side apply that creates).
	manager string
}

// createObject admits, prepares, validates and stores a new object, and
// returns it as stored. POST, a PUT that creates and an apply that creates
// all come here.
func (s *Server) createObject(ctx context.Context, res *api.Resource, obj runtime.Object, o createOptions) (runtime.Object, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	if err := s.admission.Create(ctx, res, obj); err != nil {
		return nil, err
	}
	if o.manager != "" {
		obj = s.fields[res].main.UpdateNoErrors(res.New(), obj, o.manager)
	}
	var opts []storage.WriteOption
	if res == api.Events {
		lease, err := s.events.Lease(ctx)
		if err != nil {
			return nil, storageError(err, res, m.GetName())
		}
		opts = append(opts, storage.WithLease(lease))
	}
	for attempt := 0; ; attempt++ {
		target := obj
		var auto allocation
		if svc, ok := obj.(*corev1.Service); ok {
			candidate := svc.DeepCopy()
			if auto, err = s.allocateService(ctx, candidate, nil, attempt); err != nil {
				return nil, err
			}
			target = candidate
		}
		if o.dryRun {
			return target, nil
		}
		err = s.store.Create(ctx, res.Storage, target, opts...)
		if retry, cerr := claimTaken(err, target, auto); retry && attempt < maxAllocationAttempts {
			continue
		} else if cerr != nil {
			return nil, storageError(cerr, res, m.GetName())
		}
		s.events.objectCreated(res, target)
		return target, nil
	}
}
