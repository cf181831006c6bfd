package admission

import (
	"context"
	"log/slog"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/storage"
	"github.com/shepherd-lab/shepherd/storage/informer"
)

// Cluster is what the plugins read of the cluster.
type Cluster interface {
	// Namespace returns the named namespace, or a NotFound StatusError.
	Namespace(ctx context.Context, name string) (*corev1.Namespace, error)
	// Settings returns the current cluster-wide settings.
	Settings() Settings
}

// Sources are where a Cluster made by NewCluster reads.
type Sources struct {
	// CachedNamespace returns a namespace from a watch-fed view, or false
	// when the view has none or must not be trusted for it.
	CachedNamespace func(name string) (*corev1.Namespace, bool)
	// Store answers what the view does not: a namespace created an
	// instant ago is read from etcd, as Kubernetes' NamespaceLifecycle
	// does a live lookup.
	Store *storage.Store
	// SettingsConfigMap returns the settings ConfigMap as the view has it,
	// or nil.
	SettingsConfigMap func() *corev1.ConfigMap
	Log               *slog.Logger
}

// NewCluster returns a Cluster over src.
func NewCluster(src Sources) Cluster {
	if src.Log == nil {
		src.Log = slog.Default()
	}
	return &cluster{src: src}
}

type cluster struct {
	src Sources

	mu       sync.Mutex
	lastRV   string // of the ConfigMap last parsed
	settings Settings
}

func (c *cluster) Namespace(ctx context.Context, name string) (*corev1.Namespace, error) {
	if ns, ok := c.src.CachedNamespace(name); ok {
		return ns, nil
	}
	obj, err := c.src.Store.Get(ctx, api.Namespaces.Storage, "", name)
	switch {
	case storage.IsNotFound(err):
		return nil, apierrors.NewNotFound(api.Namespaces.GroupResource(), name)
	case err != nil:
		return nil, apierrors.NewInternalError(err)
	}
	return obj.(*corev1.Namespace), nil
}

// Settings parses the ConfigMap once per version. One that does not parse
// (it was written around the apiserver) leaves Kubernetes' defaults, and
// says so once.
func (c *cluster) Settings() Settings {
	cm := c.src.SettingsConfigMap()
	if cm == nil {
		return DefaultSettings()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cm.ResourceVersion != c.lastRV || c.lastRV == "" {
		s, errs := SettingsFromConfigMap(cm)
		if len(errs) > 0 {
			c.src.Log.Warn("admission settings do not parse; using Kubernetes' defaults",
				"configmap", SettingsNamespace+"/"+SettingsName, "err", errs.ToAggregate())
			s = DefaultSettings()
		}
		c.settings, c.lastRV = s, cm.ResourceVersion
	}
	return c.settings
}

// Informers is a Cluster for components other than the apiserver: it
// follows the namespaces and the settings ConfigMap with informers. Run
// it, and wait for WaitSynced before the first write.
type Informers struct {
	Cluster
	namespaces, settings *informer.Informer
}

// Follow returns the informers of a Cluster over store.
func Follow(store *storage.Store, log *slog.Logger) *Informers {
	i := &Informers{
		namespaces: informer.New(informer.Config{Store: store, Resource: api.Namespaces.Storage, Log: log}),
		settings: informer.New(informer.Config{
			Store: store, Resource: api.ConfigMaps.Storage, Namespace: SettingsNamespace, Log: log,
			Predicate: storage.Predicate{Field: fields.OneTermEqualSelector("metadata.name", SettingsName)},
		}),
	}
	i.Cluster = NewCluster(Sources{
		CachedNamespace: func(name string) (*corev1.Namespace, bool) {
			ns, ok := i.namespaces.Get("", name).(*corev1.Namespace)
			return ns, ok
		},
		Store: store,
		SettingsConfigMap: func() *corev1.ConfigMap {
			cm, _ := i.settings.Get(SettingsNamespace, SettingsName).(*corev1.ConfigMap)
			return cm
		},
		Log: log,
	})
	return i
}

// Run follows the cluster until ctx is done.
func (i *Informers) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); i.namespaces.Run(ctx) }()
	go func() { defer wg.Done(); i.settings.Run(ctx) }()
	wg.Wait()
}

// WaitSynced waits until both informers hold their first list.
func (i *Informers) WaitSynced(ctx context.Context) error {
	if err := i.namespaces.WaitSynced(ctx); err != nil {
		return err
	}
	return i.settings.WaitSynced(ctx)
}
