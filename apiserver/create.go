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
		return methodNotAllowed("create", info)
	}
	dryRun, err := parseDryRun(r)
	if err != nil {
		return err
	}
	level, err := fieldValidation(r)
	if err != nil {
		return err
	}
	data, err := readBody(r)
	if err != nil {
		return err
	}
	obj, warnings, err := decodeObject(data, mediaType(r.Header.Get("Content-Type")), res.GroupVersionKind(), res.New(), level)
	if err != nil {
		return err
	}
	addWarnings(w, warnings)
	if _, err := checkNamespaceAndName(obj, res, info, false); err != nil {
		return err
	}
	if err := s.createObject(r.Context(), res, obj, dryRun); err != nil {
		return err
	}
	writeObject(w, r, http.StatusCreated, obj)
	return nil
}

// createObject admits, prepares, validates and stores a new object, setting
// its resourceVersion. It is shared by POST and by a PUT that creates.
func (s *Server) createObject(ctx context.Context, res *api.Resource, obj runtime.Object, dryRun bool) error {
	m, err := meta.Accessor(obj)
	if err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	if err := s.admitCreate(ctx, res, m.GetNamespace(), m.GetName()); err != nil {
		return err
	}
	if err := res.BeforeCreate(obj); err != nil {
		return err
	}
	var opts []storage.WriteOption
	if res == api.Events {
		lease, err := s.events.lease(ctx)
		if err != nil {
			return storageError(err, res, m.GetName())
		}
		opts = append(opts, storage.WithLease(lease))
	}
	svc, isService := obj.(*corev1.Service)
	for attempt := 0; ; attempt++ {
		target := obj
		var auto allocation
		if isService {
			candidate := svc.DeepCopy()
			if auto, err = s.allocateService(ctx, candidate, nil, attempt); err != nil {
				return err
			}
			target = candidate
		}
		if dryRun {
			copyInto(obj, target)
			return nil
		}
		err = s.store.Create(ctx, res.Storage, target, opts...)
		if retry, cerr := claimTaken(err, target, auto); retry && attempt < maxAllocationAttempts {
			continue
		} else if cerr != nil {
			return storageError(cerr, res, m.GetName())
		}
		copyInto(obj, target)
		break
	}
	s.events.objectCreated(res, obj)
	return nil
}

// copyInto makes dst (a pointer to a struct) equal to src of the same type.
func copyInto(dst, src runtime.Object) {
	if dst == src {
		return
	}
	reflectCopy(dst, src)
}
