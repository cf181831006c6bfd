package apiserver

import (
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/storage"
)

// get serves GET of one object. Without a resourceVersion it is a quorum
// read of etcd; with one, the watch cache answers once it has caught up
// with it ("0": at once).
func (s *Server) get(w http.ResponseWriter, r *http.Request, res *api.Resource, info requestInfo) error {
	rv := r.URL.Query().Get("resourceVersion")
	if rv == "" {
		obj, err := s.store.Get(r.Context(), res.Storage, info.Namespace, info.Name)
		if err != nil {
			return storageError(err, res, info.Name)
		}
		obj.GetObjectKind().SetGroupVersionKind(res.GroupVersionKind())
		writeObject(w, r, http.StatusOK, obj)
		return nil
	}
	rev, err := storage.ParseRevision(rv)
	if err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	entry, _, err := s.caches[res].Get(r.Context(), info.Namespace, info.Name, rev)
	if err != nil {
		return storageError(err, res, info.Name)
	}
	if entry == nil {
		return apierrors.NewNotFound(res.GroupResource(), info.Name)
	}
	body, err := entry.Encoded()
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	writeRaw(w, r, http.StatusOK, body)
	return nil
}
