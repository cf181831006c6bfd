package apiserver

import (
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/storage"
)

// get serves GET of one object. Without a resourceVersion it is a quorum
// read of etcd; with one, the watch cache answers once it has caught up
// with it ("0": at once).
func (s *Server) get(w http.ResponseWriter, r *http.Request, res *api.Resource, info requestInfo) error {
	asTable, include, err := tableRequest(r)
	if err != nil {
		return err
	}
	rv := r.URL.Query().Get("resourceVersion")
	if rv == "" || asTable {
		obj, err := s.store.Get(r.Context(), res.Storage, info.Namespace, info.Name)
		if err != nil {
			return storageError(err, res, info.Name)
		}
		obj.GetObjectKind().SetGroupVersionKind(res.GroupVersionKind())
		if asTable {
			m, _ := meta.Accessor(obj)
			table, err := toTable(res, []runtime.Object{obj}, metav1.ListMeta{ResourceVersion: m.GetResourceVersion()}, include)
			if err != nil {
				return apierrors.NewInternalError(err)
			}
			writeObject(w, r, http.StatusOK, table)
			return nil
		}
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
