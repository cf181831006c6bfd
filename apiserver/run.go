package apiserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-lab/shepherd/admission"
	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/storage"
	"github.com/shepherd-lab/shepherd/storage/embedded"
)

// Options are the apiserver's settings; the shepherd-apiserver command
// fills them from its flags.
type Options struct {
	// BindAddress and Port are where the API is served. Plain HTTP is only
	// served on loopback addresses. Port 0 picks a free port.
	BindAddress string
	Port        int
	// EtcdServers selects an external etcd cluster; empty runs an embedded
	// etcd in DataDir, listening at the two etcd URLs.
	EtcdServers            []string
	DataDir                string
	EtcdListenClientURL    string
	EtcdListenPeerURL      string
	EtcdUnsafeNoFsync      bool // tests only
	EtcdCompactionInterval time.Duration
	ServiceClusterIPRange  string
	ServiceNodePortRange   string
	EventTTL               time.Duration
	// WatchCacheSize is how many recent changes each resource's watch
	// cache keeps for watchers resuming from an older resourceVersion.
	WatchCacheSize int
	// Admission are the cluster-wide admission settings (the
	// DefaultTolerationSeconds flags): written to etcd at start, where
	// every component's admission reads them.
	Admission admission.Settings
	Logger    *slog.Logger
}

// DefaultOptions are the settings of a plain `shepherd-apiserver`.
func DefaultOptions() Options {
	return Options{
		BindAddress:            "127.0.0.1",
		Port:                   6443,
		DataDir:                "/var/lib/shepherd/apiserver",
		EtcdListenClientURL:    "http://127.0.0.1:2379",
		EtcdListenPeerURL:      "http://127.0.0.1:2380",
		EtcdCompactionInterval: 5 * time.Minute,
		ServiceClusterIPRange:  "10.96.0.0/12",
		ServiceNodePortRange:   "30000-32767",
		EventTTL:               time.Hour,
		WatchCacheSize:         10000,
		Admission:              admission.DefaultSettings(),
	}
}

// Serving is a running apiserver, as Run reports it once it serves.
type Serving struct {
	// URL is the base URL of the API, e.g. http://127.0.0.1:6443.
	URL string
	// EtcdEndpoints are the etcd client URLs the apiserver uses.
	EtcdEndpoints []string
}

// Run starts the embedded etcd (unless external servers are given), the
// store, the watch caches and the HTTP server, calls ready once the API
// serves, and runs until ctx is done; then it stops everything cleanly.
func Run(ctx context.Context, o Options, ready func(Serving)) error {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	if err := checkLoopback(o.BindAddress); err != nil {
		return err
	}
	_, ipRange, err := net.ParseCIDR(o.ServiceClusterIPRange)
	if err != nil {
		return fmt.Errorf("--service-cluster-ip-range %q: %w", o.ServiceClusterIPRange, err)
	}
	portBase, portSize, err := parsePortRange(o.ServiceNodePortRange)
	if err != nil {
		return fmt.Errorf("--service-node-port-range: %w", err)
	}
	if err := o.Admission.Validate(); err != nil {
		return fmt.Errorf("--%w", err)
	}

	endpoints := o.EtcdServers
	if len(endpoints) == 0 {
		etcd, err := embedded.Start(embedded.Config{
			DataDir:       filepath.Join(o.DataDir, "etcd"),
			ClientURL:     o.EtcdListenClientURL,
			PeerURL:       o.EtcdListenPeerURL,
			UnsafeNoFsync: o.EtcdUnsafeNoFsync,
			Logger:        log,
		})
		if err != nil {
			return err
		}
		defer etcd.Close()
		endpoints = etcd.Endpoints()
		log.Info("embedded etcd serving", "endpoints", endpoints, "dataDir", filepath.Join(o.DataDir, "etcd"))
	}

	m := newMetrics()
	connectCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	store, err := storage.Connect(connectCtx, endpoints, api.Scheme, storage.WithMetrics(m.storage), storage.WithLogger(log))
	cancel()
	if err != nil {
		return err
	}
	defer store.Close()

	srv, err := newServer(Config{
		ServiceClusterIPRange: ipRange,
		NodePortBase:          portBase,
		NodePortSize:          portSize,
		EventTTL:              o.EventTTL,
		WatchCacheSize:        o.WatchCacheSize,
		Logger:                log,
	}, store, m)
	if err != nil {
		return err
	}
	runCtx, stopBackground := context.WithCancel(ctx)
	defer srv.wait()
	defer stopBackground()
	// The namespaces every cluster has and the admission settings exist
	// before the caches list, so the first requests see them.
	if err := bootstrapNamespaces(ctx, store, srv.admission); err != nil {
		return err
	}
	if err := writeAdmissionSettings(ctx, store, srv.admission, o.Admission, log); err != nil {
		return fmt.Errorf("admission settings: %w", err)
	}
	srv.start(runCtx)
	if o.EtcdCompactionInterval > 0 {
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); store.RunCompactor(runCtx, o.EtcdCompactionInterval) }()
		defer wg.Wait()
	}

	ln, err := net.Listen("tcp", net.JoinHostPort(o.BindAddress, strconv.Itoa(o.Port)))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// Watches are long-lived: they end when serveCtx does, which shutdown
	// cancels before waiting for the other requests to finish.
	serveCtx, endRequests := context.WithCancel(context.Background())
	defer endRequests()
	httpServer := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 30 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return serveCtx },
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- httpServer.Serve(ln) }()
	url := "http://" + ln.Addr().String()
	log.Info("shepherd-apiserver serving", "url", url, "version", versionObject().GitVersion)
	if ready != nil {
		ready(Serving{URL: url, EtcdEndpoints: endpoints})
	}

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("shepherd-apiserver shutting down")
	endRequests()
	shutdownCtx, cancelShutdown := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelShutdown()
	if err := httpServer.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("http shutdown", "err", err)
	}
	return nil
}

// bootstrapNamespaces creates the namespaces every cluster has.
func bootstrapNamespaces(ctx context.Context, store *storage.Store, adm *admission.Admission) error {
	for _, name := range []string{"default", "kube-system", "kube-public", "kube-node-lease"} {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if err := adm.Create(ctx, api.Namespaces, ns); err != nil {
			return err
		}
		if err := store.Create(ctx, api.Namespaces.Storage, ns); err != nil && !errors.Is(err, storage.ErrAlreadyExists) {
			return fmt.Errorf("create namespace %s: %w", name, err)
		}
	}
	return nil
}

func checkLoopback(addr string) error {
	ip := net.ParseIP(addr)
	if addr == "localhost" || (ip != nil && ip.IsLoopback()) {
		return nil
	}
	return fmt.Errorf("--bind-address %q: the API is served over plain HTTP without authentication, so only on a loopback address (127.0.0.1 or ::1) until authentication exists", addr)
}

func parsePortRange(s string) (base, size int, err error) {
	lo, hi, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("%q: want FROM-TO", s)
	}
	a, err1 := strconv.Atoi(strings.TrimSpace(lo))
	b, err2 := strconv.Atoi(strings.TrimSpace(hi))
	if err1 != nil || err2 != nil || a <= 0 || b < a || b > 65535 {
		return 0, 0, fmt.Errorf("%q: want FROM-TO with 0 < FROM <= TO <= 65535", s)
	}
	return a, b - a + 1, nil
}
