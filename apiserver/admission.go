package apiserver

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/storage"
)

// immortalNamespaces may never be deleted, as in Kubernetes.
var immortalNamespaces = map[string]bool{
	metav1NamespaceDefault: true, "kube-system": true, "kube-public": true,
}

const metav1NamespaceDefault = "default"

// admitCreate applies the namespace lifecycle rule to a create of a
// namespaced object: its namespace must exist and, except for events, must
// not be terminating.
func (s *Server) admitCreate(ctx context.Context, res *api.Resource, namespace, name string) error {
	if !res.Namespaced {
		return nil
	}
	ns, err := s.namespace(ctx, namespace)
	if err != nil {
		return err
	}
	if res != api.Events && (ns.DeletionTimestamp != nil || ns.Status.Phase == corev1.NamespaceTerminating) {
		return apierrors.NewForbidden(res.GroupResource(), name,
			fmt.Errorf("unable to create new content in namespace %s because it is being terminated", namespace))
	}
	return nil
}

// namespace returns a namespace from the watch cache, or from etcd when the
// cache has not seen it yet (it may have been created an instant ago) or
// it was deleted lately (the cache may still show it Active), as
// Kubernetes' NamespaceLifecycle admission does.
func (s *Server) namespace(ctx context.Context, name string) (*corev1.Namespace, error) {
	if !s.deletedNamespaces.has(name) {
		if entry, _, err := s.caches[api.Namespaces].Get(ctx, "", name, 0); err == nil && entry != nil {
			return entry.Object.(*corev1.Namespace), nil
		}
	}
	obj, err := s.store.Get(ctx, api.Namespaces.Storage, "", name)
	if err != nil {
		if storage.IsNotFound(err) {
			return nil, apierrors.NewNotFound(api.Namespaces.GroupResource(), name)
		}
		return nil, storageError(err, api.Namespaces, name)
	}
	return obj.(*corev1.Namespace), nil
}

// admitDelete refuses to delete the namespaces Kubernetes keeps forever.
func admitDelete(res *api.Resource, name string) error {
	if res == api.Namespaces && immortalNamespaces[name] {
		return apierrors.NewForbidden(res.GroupResource(), name, fmt.Errorf("this namespace may not be deleted"))
	}
	return nil
}

// recentNames remembers names for recentNamesTTL.
type recentNames struct {
	mu    sync.Mutex
	until map[string]time.Time
}

// recentNamesTTL is how long a deleted namespace is looked up live:
// Kubernetes' forceLiveLookupTTL.
const recentNamesTTL = 30 * time.Second

func (r *recentNames) add(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if r.until == nil {
		r.until = map[string]time.Time{}
	}
	for n, t := range r.until {
		if now.After(t) {
			delete(r.until, n)
		}
	}
	r.until[name] = now.Add(recentNamesTTL)
}

func (r *recentNames) has(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.until[name]
	return ok && time.Now().Before(t)
}
