// Package controller holds what Shepherd's controllers share: a work queue
// with Kubernetes' workqueue metrics, informers shared per resource, and
// the Context each controller is built from. Each controller lives in a
// subpackage (replicaset, deployment, nodelifecycle, endpoints,
// garbagecollector, namespace, podgc); shepherd-controller-manager runs
// them under one leader election.
//
// A controller registers its handlers on the shared informers when it is
// built, before Informers.Start; handlers only add keys to its queue; its
// workers read objects from the informers and write through storage with
// Context.Fence, so a deposed leader's writes fail.
package controller

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/shepherd-lab/shepherd/admission"
	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/events"
	"github.com/shepherd-lab/shepherd/storage"
	"github.com/shepherd-lab/shepherd/storage/informer"
)

// Controller is one control loop.
type Controller interface {
	// Name is the controller's name, also its queue's metric label.
	Name() string
	// Run processes its queue with workers goroutines until ctx ends.
	Run(ctx context.Context, workers int)
}

// Context is what every controller is built from.
type Context struct {
	Store     *storage.Store
	Informers *Informers
	Events    *events.Recorder
	Log       *slog.Logger
	// QueueMetrics are shared by every controller's queue; Registry takes
	// a controller's own series.
	QueueMetrics *QueueMetrics
	Registry     prometheus.Registerer
	// Fence is passed to every write: it fails once this process no
	// longer leads (nil without leader election).
	Fence []storage.WriteOption
	// Admission prepares every object a controller writes, as the
	// apiserver's handlers do theirs: Create, Update, UpdateStatus and
	// Delete before each storage write.
	Admission *admission.Admission
}

// NewQueue makes a queue for the named controller.
func (c *Context) NewQueue(name string) *Queue { return NewQueue(name, c.QueueMetrics) }

// Informers shares one informer per resource among the controllers.
type Informers struct {
	store *storage.Store
	log   *slog.Logger

	mu      sync.Mutex
	shared  map[*api.Resource]*Shared
	started bool
	wg      sync.WaitGroup
}

// NewInformers returns an empty set; For adds to it until Start.
func NewInformers(store *storage.Store, log *slog.Logger) *Informers {
	return &Informers{store: store, log: log, shared: map[*api.Resource]*Shared{}}
}

// Shared is one resource's informer with any number of handlers.
type Shared struct {
	*informer.Informer
	fan *fanout
}

// AddHandler adds a handler; call it before Informers.Start.
func (s *Shared) AddHandler(h informer.Handler) {
	s.fan.mu.Lock()
	defer s.fan.mu.Unlock()
	s.fan.handlers = append(s.fan.handlers, h)
}

// For returns the shared informer of res, creating it on first use.
func (f *Informers) For(res *api.Resource) *Shared {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s := f.shared[res]; s != nil {
		return s
	}
	if f.started {
		panic("controller: informer for " + res.Plural + " requested after Start")
	}
	fan := &fanout{}
	s := &Shared{
		Informer: informer.New(informer.Config{Store: f.store, Resource: res.Storage, Handler: fan, Log: f.log}),
		fan:      fan,
	}
	f.shared[res] = s
	return s
}

// Start runs every informer until ctx ends (Wait waits for them).
func (f *Informers) Start(ctx context.Context) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started = true
	for _, s := range f.shared {
		f.wg.Add(1)
		go func() { defer f.wg.Done(); s.Run(ctx) }()
	}
}

// WaitSynced waits until every informer has delivered its first list.
func (f *Informers) WaitSynced(ctx context.Context) error {
	f.mu.Lock()
	list := make([]*Shared, 0, len(f.shared))
	for _, s := range f.shared {
		list = append(list, s)
	}
	f.mu.Unlock()
	for _, s := range list {
		if err := s.WaitSynced(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Wait waits for the informers to stop after their context ended.
func (f *Informers) Wait() { f.wg.Wait() }

// fanout passes each change to every handler, in order.
type fanout struct {
	mu       sync.Mutex
	handlers []informer.Handler
}

func (f *fanout) list() []informer.Handler {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.handlers
}

func (f *fanout) OnAdd(obj runtime.Object) {
	for _, h := range f.list() {
		h.OnAdd(obj)
	}
}

func (f *fanout) OnUpdate(old, obj runtime.Object) {
	for _, h := range f.list() {
		h.OnUpdate(old, obj)
	}
}

func (f *fanout) OnDelete(obj runtime.Object) {
	for _, h := range f.list() {
		h.OnDelete(obj)
	}
}

// Key is "namespace/name" ("name" for cluster-scoped objects).
func Key(obj runtime.Object) string {
	m, err := meta.Accessor(obj)
	if err != nil {
		return ""
	}
	if m.GetNamespace() == "" {
		return m.GetName()
	}
	return m.GetNamespace() + "/" + m.GetName()
}

// SplitKey undoes Key.
func SplitKey(key string) (namespace, name string) {
	if ns, n, ok := strings.Cut(key, "/"); ok {
		return ns, n
	}
	return "", key
}

// DefaultIdentity names this process in leader leases: hostname_random,
// as Kubernetes' components.
func DefaultIdentity() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	rand.Read(b)
	return fmt.Sprintf("%s_%x", host, b)
}
