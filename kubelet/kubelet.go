package kubelet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/events"
	"github.com/shepherd-lab/shepherd/runtime/container"
	"github.com/shepherd-lab/shepherd/runtime/image"
	"github.com/shepherd-lab/shepherd/storage/informer"
)

// DefaultPort is the kubelet's HTTP port, as Kubernetes'.
const DefaultPort = 10250

// Config configures a Kubelet: the node agent's settings plus what the
// pod workers and the HTTP server need.
type Config struct {
	NodeConfig
	Runtime *container.Runtime
	Images  *image.Store
	// Address and Port are where the HTTP server listens (logs, healthz,
	// metrics); Port 0 picks a free port (tests). The port is published
	// in the Node's status.daemonEndpoints for the apiserver's log proxy.
	Address string
	Port    int
	// BackOffBase and BackOffMax bound restart back-off (Kubernetes: 10 s
	// doubling to 5 min); tests shorten them.
	BackOffBase, BackOffMax time.Duration
	// ResyncInterval is how often each pod is synced with nothing having
	// happened (configMap and secret volumes are refreshed then).
	ResyncInterval time.Duration
	// ClusterDomain is the cluster's DNS domain: a pod with a subdomain
	// has the FQDN <hostname>.<subdomain>.<namespace>.svc.<ClusterDomain>
	// in its /etc/hosts. "" means DefaultClusterDomain.
	ClusterDomain string
	// OrphanGrace is the grace period given to containers of pods that
	// vanished from etcd without the kubelet seeing their deletion.
	OrphanGrace time.Duration
}

// Kubelet runs one node: the NodeAgent, the pod workers and the HTTP
// server.
type Kubelet struct {
	cfg      Config
	log      *slog.Logger
	agent    *NodeAgent
	pods     *podManager
	events   *events.Recorder
	metrics  *metrics
	registry *prometheus.Registry
	listener net.Listener
	// services is every Service, for containers' service-link variables.
	services *informer.Informer

	once  sync.Once
	ip    string
	alloc corev1.ResourceList
}

// New checks cfg and opens the HTTP listener (so the port is known before
// the Node is registered).
func New(cfg Config) (*Kubelet, error) {
	if cfg.Runtime == nil || cfg.Images == nil {
		return nil, errors.New("kubelet: Runtime and Images are required")
	}
	if cfg.BackOffBase == 0 {
		cfg.BackOffBase = 10 * time.Second
	}
	if cfg.BackOffMax == 0 {
		cfg.BackOffMax = 5 * time.Minute
	}
	if cfg.ResyncInterval == 0 {
		cfg.ResyncInterval = 10 * time.Second
	}
	if cfg.ClusterDomain == "" {
		cfg.ClusterDomain = DefaultClusterDomain
	}
	if cfg.OrphanGrace == 0 {
		cfg.OrphanGrace = 2 * time.Second
	}
	if cfg.Address == "" {
		cfg.Address = "0.0.0.0"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.Address, strconv.Itoa(cfg.Port)))
	if err != nil {
		return nil, fmt.Errorf("kubelet: listen: %w", err)
	}
	cfg.NodeConfig.Port = int32(ln.Addr().(*net.TCPAddr).Port)
	agent, err := NewNodeAgent(cfg.NodeConfig)
	if err != nil {
		ln.Close()
		return nil, err
	}
	k := &Kubelet{cfg: cfg, log: agent.log, agent: agent, listener: ln, registry: prometheus.NewRegistry()}
	k.metrics = newMetrics(k.registry, cfg.Name)
	k.metrics.runningState = k.runningState
	k.metrics.cadvisor.MustRegister(cadvisorCollector{rt: cfg.Runtime})
	k.events = events.NewRecorder(cfg.Store, cfg.Admission, "kubelet", 0, k.log)
	k.pods = newPodManager(k)
	k.services = informer.New(informer.Config{Store: cfg.Store, Resource: api.Services.Storage, Log: k.log})
	return k, nil
}

// Addr is the HTTP server's address.
func (k *Kubelet) Addr() net.Addr { return k.listener.Addr() }

// Run runs the node until ctx ends. Containers keep running when it
// returns: a restarted kubelet adopts them.
func (k *Kubelet) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srv := &http.Server{Handler: k.handler(), ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	var wg sync.WaitGroup
	run := func(f func()) {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	run(func() {
		if err := srv.Serve(k.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			k.log.Error("kubelet HTTP server", "err", err)
		}
	})
	run(func() { k.events.Run(ctx) })
	run(func() { k.services.Run(ctx) })
	run(func() { k.pods.run(ctx) })
	err := k.agent.Run(ctx)
	cancel()
	sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
	srv.Shutdown(sctx)
	scancel()
	wg.Wait()
	return err
}

// podDir is where a pod's volumes and logs live on the host.
func (k *Kubelet) podDir(uid string) string {
	return filepath.Join(k.cfg.RootDir, "pods", uid)
}

func (k *Kubelet) volumes() *volumeManager {
	return &volumeManager{Root: filepath.Join(k.cfg.RootDir, "pods"), Get: storeObjects{Store: k.cfg.Store}, Log: k.log}
}

// hostIP is the node's InternalIP.
func (k *Kubelet) hostIP() string {
	k.once.Do(k.observeHost)
	return k.ip
}

// allocatable is the node's allocatable cpu and memory (the default of
// resourceFieldRef limits).
func (k *Kubelet) allocatable() corev1.ResourceList {
	k.once.Do(k.observeHost)
	return k.alloc
}

func (k *Kubelet) observeHost() {
	k.ip = k.cfg.NodeIP
	if k.ip == "" {
		k.ip = FirstIPv4()
	}
	mem, _ := memTotal()
	k.alloc = corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewQuantity(int64(goruntime.NumCPU()), resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(mem, resource.BinarySI),
	}
}
