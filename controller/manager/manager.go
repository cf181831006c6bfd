// Package manager runs Shepherd's controllers as one leader-elected
// process: shepherd-controller-manager's body.
package manager

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-lab/shepherd/admission"
	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/controller"
	"github.com/shepherd-lab/shepherd/controller/deployment"
	"github.com/shepherd-lab/shepherd/controller/endpoints"
	"github.com/shepherd-lab/shepherd/controller/garbagecollector"
	"github.com/shepherd-lab/shepherd/controller/namespace"
	"github.com/shepherd-lab/shepherd/controller/nodelifecycle"
	"github.com/shepherd-lab/shepherd/controller/podgc"
	"github.com/shepherd-lab/shepherd/controller/replicaset"
	"github.com/shepherd-lab/shepherd/events"
	"github.com/shepherd-lab/shepherd/storage"
)

// Options configure the manager (kube-controller-manager's flag names in
// the command).
type Options struct {
	Store    *storage.Store
	Registry prometheus.Registerer
	Log      *slog.Logger

	// LeaderElect makes copies elect one leader through the Lease
	// kube-system/kube-controller-manager; only it runs controllers.
	LeaderElect   bool
	LeaseDuration time.Duration
	Identity      string

	// Controllers names the controllers to run ("*" for all, "-name" to
	// leave one out), as --controllers.
	Controllers []string
	// ConcurrentSyncs is the number of workers per controller.
	ConcurrentSyncs int

	NodeMonitorGracePeriod time.Duration
	NodeEvictionRate       float64
	TerminatedPodThreshold int
}

// DefaultOptions are kube-controller-manager's defaults.
func DefaultOptions() Options {
	return Options{
		LeaderElect: true, LeaseDuration: 15 * time.Second, Identity: controller.DefaultIdentity(),
		Controllers: []string{"*"}, ConcurrentSyncs: 5,
		NodeMonitorGracePeriod: 50 * time.Second, NodeEvictionRate: 0.1, TerminatedPodThreshold: 12500,
	}
}

// Names are the controllers the manager knows, in start order.
var Names = []string{"namespace", "garbagecollector", "deployment", "replicaset", "nodelifecycle", "podgc", "endpoint"}

// Enabled applies --controllers to a controller name.
func Enabled(list []string, name string) bool {
	on := false
	for _, c := range list {
		switch {
		case c == name:
			on = true
		case c == "-"+name:
			return false
		case c == "*":
			on = true
		}
	}
	return on
}

// CheckControllers checks a --controllers list names known controllers.
func CheckControllers(list []string) error {
	for _, c := range list {
		name := strings.TrimPrefix(c, "-")
		if name != "*" && !slices.Contains(Names, name) {
			return fmt.Errorf("--controllers: unknown controller %q (known: %s)", name, strings.Join(Names, ", "))
		}
	}
	return nil
}

// ErrLeadershipLost ends Run when another copy took over: the process
// should exit and be restarted as a standby, as kube-controller-manager.
var ErrLeadershipLost = errors.New("leader election lost")

// Manager runs the enabled controllers once it leads.
type Manager struct {
	opts    Options
	leading prometheus.Gauge
	mu      sync.Mutex
	running []string
}

// New checks opts.
func New(opts Options) (*Manager, error) {
	if opts.Store == nil {
		return nil, errors.New("manager: Store is required")
	}
	if err := CheckControllers(opts.Controllers); err != nil {
		return nil, err
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.ConcurrentSyncs < 1 {
		opts.ConcurrentSyncs = 1
	}
	m := &Manager{opts: opts, leading: prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "leader_election_master_status", Help: "1 while this process leads, 0 otherwise.",
		ConstLabels: prometheus.Labels{"name": "kube-controller-manager"},
	})}
	opts.Registry.MustRegister(m.leading)
	return m, nil
}

// Running lists the controllers running now (empty while standing by).
func (m *Manager) Running() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.running)
}

// Run waits to lead, then runs the controllers until ctx ends (it then
// resigns, so a standby takes over at once) or leadership is lost.
func (m *Manager) Run(ctx context.Context) error {
	o := m.opts
	// Admission follows the cluster (namespaces, the settings the
	// apiserver stores) for the whole process, leading or not, so a new
	// leader admits its first writes with current settings.
	cluster := admission.Follow(o.Store, o.Log)
	admCtx, stopAdmission := context.WithCancel(context.WithoutCancel(ctx))
	var admWG sync.WaitGroup
	admWG.Add(1)
	go func() { defer admWG.Done(); cluster.Run(admCtx) }()
	defer admWG.Wait()
	defer stopAdmission()
	var fence []storage.WriteOption
	var lost <-chan struct{}
	if o.LeaderElect {
		l, err := o.Store.Campaign(ctx, storage.ElectionConfig{
			Leases: api.Leases.Storage, Namespace: metav1.NamespaceSystem, Name: "kube-controller-manager",
			Identity: o.Identity, LeaseDuration: o.LeaseDuration, Log: o.Log,
		})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("leader election: %w", err)
		}
		defer func() {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := l.Resign(rctx); err != nil {
				o.Log.Warn("resigning leadership failed", "err", err)
			}
		}()
		fence = []storage.WriteOption{storage.WithFence(l.Fence())}
		lost = l.Lost()
	}
	m.leading.Set(1)
	defer m.leading.Set(0)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if lost != nil {
		go func() {
			select {
			case <-lost:
				cancel()
			case <-runCtx.Done():
			}
		}()
	}

	informers := controller.NewInformers(o.Store, o.Log)
	adm := admission.New(cluster)
	rec := events.NewRecorder(o.Store, adm, "controller-manager", 0, o.Log)
	c := &controller.Context{
		Store: o.Store, Informers: informers, Events: rec, Log: o.Log,
		QueueMetrics: controller.NewQueueMetrics(o.Registry), Registry: o.Registry, Fence: fence,
		Admission: adm,
	}
	var ctrls []controller.Controller
	for _, name := range Names {
		if !Enabled(o.Controllers, name) {
			continue
		}
		ctrls = append(ctrls, m.build(c, name))
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() { defer wg.Done(); rec.Run(runCtx) }()
	informers.Start(runCtx)
	defer informers.Wait()
	if err := informers.WaitSynced(runCtx); err != nil {
		return m.ended(ctx, lost)
	}
	if err := cluster.WaitSynced(runCtx); err != nil {
		return m.ended(ctx, lost)
	}
	names := make([]string, 0, len(ctrls))
	for _, ctrl := range ctrls {
		names = append(names, ctrl.Name())
		wg.Add(1)
		go func() { defer wg.Done(); ctrl.Run(runCtx, o.ConcurrentSyncs) }()
	}
	sort.Strings(names)
	m.mu.Lock()
	m.running = names
	m.mu.Unlock()
	o.Log.Info("controllers running", "controllers", strings.Join(names, ","), "identity", o.Identity)
	<-runCtx.Done()
	m.mu.Lock()
	m.running = nil
	m.mu.Unlock()
	return m.ended(ctx, lost)
}

func (m *Manager) ended(ctx context.Context, lost <-chan struct{}) error {
	select {
	case <-lost:
		if ctx.Err() == nil {
			return ErrLeadershipLost
		}
	default:
	}
	return nil
}

// ownerResources are the resources the garbage collector and the
// namespace controller look after: every served one but events (which
// expire) and leases (which the components own).
func ownerResources() []*api.Resource {
	var out []*api.Resource
	for _, r := range api.All {
		if r != api.Events && r != api.Leases {
			out = append(out, r)
		}
	}
	return out
}

func namespaced(list []*api.Resource) []*api.Resource {
	var out []*api.Resource
	for _, r := range list {
		if r.Namespaced {
			out = append(out, r)
		}
	}
	return out
}

func (m *Manager) build(c *controller.Context, name string) controller.Controller {
	o := m.opts
	switch name {
	case "namespace":
		return namespace.New(c, namespaced(api.All))
	case "garbagecollector":
		return garbagecollector.New(c, ownerResources())
	case "deployment":
		return deployment.New(c)
	case "replicaset":
		return replicaset.New(c)
	case "nodelifecycle":
		return nodelifecycle.New(c, nodelifecycle.Options{NodeMonitorGracePeriod: o.NodeMonitorGracePeriod, EvictionRate: o.NodeEvictionRate})
	case "podgc":
		threshold := o.TerminatedPodThreshold
		if threshold <= 0 {
			threshold = -1 // as Kubernetes: 0 turns terminated-pod GC off
		}
		return podgc.New(c, podgc.Options{TerminatedPodThreshold: threshold})
	case "endpoint":
		return endpoints.New(c)
	}
	panic("manager: unknown controller " + name)
}
