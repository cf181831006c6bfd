package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/storage"
	"github.com/shepherd-lab/shepherd/storage/watchcache"
)

// storageError turns a storage error about the named object of r into the
// Status Kubernetes clients expect.
func storageError(err error, r *api.Resource, name string) error {
	var se *apierrors.StatusError
	var pe *storage.PreconditionError
	var tle *storage.TooLargeError
	gr := r.GroupResource()
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se):
		return se
	case errors.Is(err, storage.ErrNotFound):
		return apierrors.NewNotFound(gr, name)
	case errors.Is(err, storage.ErrAlreadyExists):
		return apierrors.NewAlreadyExists(gr, name)
	case errors.As(err, &pe):
		return apierrors.NewConflict(gr, name, errors.New(pe.Message))
	case errors.Is(err, storage.ErrConflict):
		return apierrors.NewConflict(gr, name, errors.New(registryConflictMessage))
	case errors.Is(err, storage.ErrExpired):
		return apierrors.NewResourceExpired("The provided resource version is too old: the requested history has been compacted. Start again without a resourceVersion or continue token.")
	case errors.Is(err, storage.ErrFutureRevision), errors.Is(err, watchcache.ErrNotFresh):
		return tooLargeResourceVersion(err)
	case errors.As(err, &tle):
		return tooLarge(tle)
	case errors.Is(err, storage.ErrInvalidContinue):
		return apierrors.NewBadRequest(fmt.Sprintf("invalid continue token: %v", err))
	case errors.Is(err, context.DeadlineExceeded):
		return apierrors.NewTimeoutError(fmt.Sprintf("request for %s timed out", gr), 1)
	case errors.Is(err, context.Canceled):
		return apierrors.NewTimeoutError("request was cancelled", 1)
	}
	return apierrors.NewInternalError(err)
}

// tooLarge is the 413 for an object too large to store. kube-apiserver
// answers etcd's "request is too large" with a 500 (kubernetes#112152); a
// client can do nothing but shrink the object, so it is a 413 here, as for
// an oversized body.
func tooLarge(e *storage.TooLargeError) error {
	if e.Limit == 0 {
		return apierrors.NewRequestEntityTooLargeError(fmt.Sprintf(
			"etcd refused to store the object (%d bytes stored): its --max-request-bytes is too low, it needs %d", e.Size, storage.EtcdMaxRequestBytes))
	}
	return apierrors.NewRequestEntityTooLargeError(fmt.Sprintf(
		"the object is %d bytes stored, limit is %d (etcd's default --max-request-bytes, as on Kubernetes)", e.Size, e.Limit))
}

// registryConflictMessage is the text kube-apiserver gives a stale write.
const registryConflictMessage = "the object has been modified; please apply your changes to the latest version and try again"

func tooLargeResourceVersion(err error) error {
	e := apierrors.NewTimeoutError(fmt.Sprintf("Too large resource version: %v", err), 1)
	e.ErrStatus.Details.Causes = []metav1.StatusCause{{Type: metav1.CauseTypeResourceVersionTooLarge, Message: "Too large resource version"}}
	return e
}

// toStatus returns the Status for any error a handler returns.
func toStatus(err error) *metav1.Status {
	var se apierrors.APIStatus
	if errors.As(err, &se) {
		st := se.Status()
		if st.Code == 0 {
			st.Code = http.StatusInternalServerError
		}
		st.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
		return &st
	}
	st := apierrors.NewInternalError(err).ErrStatus
	st.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
	return &st
}

// notFoundResource is the 404 for a path no resource is served at.
func notFoundResource() error {
	return apierrors.NewGenericServerResponse(http.StatusNotFound, "", schema.GroupResource{}, "", "the server could not find the requested resource", 0, false)
}

// methodNotAllowed is the 405 for a method a path is not served for, as
// kube-apiserver writes it (its router's refusal, as a Status).
func methodNotAllowed() error {
	return apierrors.NewGenericServerResponse(http.StatusMethodNotAllowed, "", schema.GroupResource{}, "", "", 0, false)
}
