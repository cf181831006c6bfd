package apiserver

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/shepherd-lab/shepherd/admission"
	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/storage"
)

// newAdmission returns the server's admission, reading the cluster from
// its watch caches: a namespace deleted through this server lately is
// read from etcd instead (the cache may still show it Active), as
// Kubernetes' NamespaceLifecycle does.
func (s *Server) newAdmission() *admission.Admission {
	return admission.New(admission.NewCluster(admission.Sources{
		CachedNamespace: func(name string) (*corev1.Namespace, bool) {
			if s.deletedNamespaces.has(name) {
				return nil, false
			}
			e := s.caches[api.Namespaces].Peek("", name)
			if e == nil {
				return nil, false
			}
			return e.Object.(*corev1.Namespace), true
		},
		Store: s.store,
		SettingsConfigMap: func() *corev1.ConfigMap {
			if e := s.caches[api.ConfigMaps].Peek(admission.SettingsNamespace, admission.SettingsName); e != nil {
				return e.Object.(*corev1.ConfigMap)
			}
			return nil
		},
		Log: s.log,
	}))
}

// writeAdmissionSettings stores the settings from this apiserver's flags,
// which every component's admission follows. Different settings found
// there (an edit, or another apiserver's flags) are replaced, and logged.
func writeAdmissionSettings(ctx context.Context, store *storage.Store, adm *admission.Admission, settings admission.Settings, log *slog.Logger) error {
	want := settings.ConfigMap()
	cms := storage.NewTyped[*corev1.ConfigMap](store, api.ConfigMaps.Storage)
	for {
		cur, err := cms.Get(ctx, admission.SettingsNamespace, admission.SettingsName)
		if storage.IsNotFound(err) {
			obj := want.DeepCopy()
			if err := adm.Create(ctx, api.ConfigMaps, obj); err != nil {
				return err
			}
			if err := cms.Create(ctx, obj); errors.Is(err, storage.ErrAlreadyExists) {
				continue
			} else if err != nil {
				return err
			}
			return nil
		}
		if err != nil {
			return err
		}
		if equality.Semantic.DeepEqual(cur.Data, want.Data) && equality.Semantic.DeepEqual(cur.Annotations, want.Annotations) && cur.BinaryData == nil {
			return nil
		}
		next := cur.DeepCopy()
		next.Data, next.Annotations, next.BinaryData = want.Data, want.Annotations, nil
		if err := adm.Update(ctx, api.ConfigMaps, next, cur); err != nil {
			return err
		}
		if err := cms.Update(ctx, cur, next); storage.IsConflict(err) {
			continue
		} else if err != nil {
			return err
		}
		if !equality.Semantic.DeepEqual(cur.Data, want.Data) {
			log.Info("admission settings replaced by this apiserver's flags",
				"configmap", admission.SettingsNamespace+"/"+admission.SettingsName, "was", cur.Data, "now", want.Data)
		}
		return nil
	}
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
