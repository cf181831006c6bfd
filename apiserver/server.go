package apiserver

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/shepherd-lab/shepherd/admission"
	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/events"
	"github.com/shepherd-lab/shepherd/storage"
	"github.com/shepherd-lab/shepherd/storage/watchcache"
)

// Config is what a Server needs beyond its store.
type Config struct {
	// ServiceClusterIPRange is the range cluster IPs are allocated from.
	ServiceClusterIPRange *net.IPNet
	// NodePortBase and NodePortSize delimit the node port range.
	NodePortBase, NodePortSize int
	// EventTTL is how long events live.
	EventTTL time.Duration
	// WatchCacheSize is the history each watch cache keeps.
	WatchCacheSize int
	Logger         *slog.Logger
}

// Server is the API server's HTTP handler and the state behind it.
type Server struct {
	store     *storage.Store
	log       *slog.Logger
	metrics   *metrics
	resources []*api.Resource
	caches    map[*api.Resource]*watchcache.Cache
	ips       *ipAllocator
	ports     *portAllocator
	events    eventRecorder
	openapi   openAPI
	fields    map[*api.Resource]*fieldManagers
	// deletedNamespaces are namespaces deleted through this server
	// lately, for which admission reads etcd, not the watch cache.
	deletedNamespaces recentNames
	admission         *admission.Admission

	wg sync.WaitGroup // the server's own goroutines
}

func newServer(cfg Config, store *storage.Store, m *metrics) (*Server, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	ips, err := newIPAllocator(store, cfg.ServiceClusterIPRange)
	if err != nil {
		return nil, err
	}
	ports, err := newPortAllocator(store, cfg.NodePortBase, cfg.NodePortSize)
	if err != nil {
		return nil, err
	}
	s := &Server{
		store:     store,
		log:       log,
		metrics:   m,
		resources: api.All,
		caches:    map[*api.Resource]*watchcache.Cache{},
		ips:       ips,
		ports:     ports,
	}
	s.admission = s.newAdmission()
	s.events = eventRecorder{events.NewRecorder(store, s.admission, eventComponent, cfg.EventTTL, log)}
	s.fields = map[*api.Resource]*fieldManagers{}
	tc := newTypeConverter()
	for _, r := range s.resources {
		if s.fields[r], err = newFieldManagers(r, tc); err != nil {
			return nil, err
		}
		s.caches[r] = watchcache.New(watchcache.Config{
			Store: store, Resource: r.Storage, Encode: encodeJSON, Logger: log,
			HistorySize: cfg.WatchCacheSize,
		})
	}
	m.registry.MustRegister(newStorageObjects(s))
	return s, nil
}

// start runs the caches and background work until ctx is done.
func (s *Server) start(ctx context.Context) {
	for _, c := range s.caches {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); c.Run(ctx) }()
	}
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.events.Run(ctx) }()
	go func() { defer s.wg.Done(); s.requestProgress(ctx) }()
}

// wait blocks until the goroutines start began have returned.
func (s *Server) wait() { s.wg.Wait() }

// requestProgress asks etcd every few seconds to tell every cache's watch
// the current revision, so caches of idle resources stay current and
// bookmark-enabled watchers get bookmarks.
func (s *Server) requestProgress(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for _, c := range s.caches {
				c.RequestProgress()
			}
		}
	}
}

// cachesReady reports whether every cache holds a full listing.
func (s *Server) cachesReady() error {
	for r, c := range s.caches {
		if !c.Ready() {
			return fmt.Errorf("watch cache of %s not ready", r.GroupResource())
		}
	}
	return nil
}

// ServeHTTP routes a request, with panic recovery, logging and metrics.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	info := parseRequestInfo(r)
	rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
	// A watch and a log stream (pods/log, as Kubernetes counts it) last as
	// long as the client wants: not a request in flight to be timed.
	longRunning := info.Verb == "watch" || info.Subresource == "log"
	if info.IsResource && !longRunning {
		kind := "readOnly"
		if info.Verb != "get" && info.Verb != "list" {
			kind = "mutating"
		}
		g := s.metrics.inflight.WithLabelValues(kind)
		g.Inc()
		defer g.Dec()
	}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
			if !rec.wrote {
				writeError(rec, r, apierrors.NewInternalError(fmt.Errorf("%v", p)))
			}
		}
		elapsed := time.Since(start)
		if info.IsResource {
			s.metrics.observe(info, r.URL.Query().Get("dryRun") != "", rec.code, elapsed)
		}
		level := slog.LevelInfo
		if !info.IsResource && rec.code < 400 {
			level = slog.LevelDebug // health checks and scrapes
		}
		s.log.Log(r.Context(), level, "request", "method", r.Method, "path", r.URL.Path, "query", r.URL.RawQuery,
			"status", rec.code, "duration", elapsed, "userAgent", r.UserAgent())
	}()
	s.route(rec, r, info)
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, info requestInfo) {
	if info.IsResource {
		s.serveResource(w, r, info)
		return
	}
	ep, head := s.nonResourcePath(r.URL.Path)
	if ep == notServed {
		writeError(w, r, notFoundResource())
		return
	}
	if r.Method != http.MethodGet && (r.Method != http.MethodHead || !head) {
		allow := "GET"
		if head {
			allow = "GET, HEAD"
		}
		w.Header().Set("Allow", allow)
		writeError(w, r, methodNotAllowed())
		return
	}
	switch ep {
	case healthEndpoint:
		s.serveHealth(w, r)
	case metricsEndpoint:
		promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{}).ServeHTTP(w, r)
	case versionEndpoint:
		if err := acceptable(r, "get"); err != nil {
			writeError(w, r, err)
			return
		}
		writeObject(w, r, http.StatusOK, versionObject())
	case discoveryEndpoint:
		s.serveDiscovery(w, r)
	case openAPIEndpoint:
		s.serveOpenAPI(w, r)
	}
}

// nonResourceEndpoint is what serves a path outside the resource API.
type nonResourceEndpoint int

const (
	notServed nonResourceEndpoint = iota
	healthEndpoint
	metricsEndpoint
	versionEndpoint
	discoveryEndpoint
	openAPIEndpoint
)

// nonResourcePath says what serves path, and whether HEAD is answered as
// GET there; every other method is refused with a 405. kube-apiserver's
// router serves /version, /api, /api/v1 and /apis/<group>/<version> and
// refuses every method but GET, HEAD included. Its plain handlers serve
// health, /metrics, /openapi/*, /apis and /apis/<group>: they answer HEAD,
// and in fact every method, as GET (DELETE /metrics even resets the
// metrics); writes to them are refused here.
func (s *Server) nonResourcePath(path string) (ep nonResourceEndpoint, head bool) {
	trimmed := strings.TrimSuffix(path, "/")
	parts := strings.Split(strings.TrimPrefix(trimmed, "/"), "/")
	switch {
	case isHealthPath(path):
		return healthEndpoint, true
	case path == "/metrics":
		return metricsEndpoint, true
	case trimmed == "/version":
		return versionEndpoint, false
	case trimmed == "/api", trimmed == "/api/v1",
		len(parts) == 3 && parts[0] == "apis" && s.servesGroupVersion(schema.GroupVersion{Group: parts[1], Version: parts[2]}):
		return discoveryEndpoint, false
	case trimmed == "/apis", len(parts) == 2 && parts[0] == "apis" && s.servesGroup(parts[1]):
		return discoveryEndpoint, true
	case trimmed == "/openapi/v2", trimmed == "/openapi/v3", strings.HasPrefix(path, "/openapi/v3/"):
		return openAPIEndpoint, true
	}
	return notServed, false
}

func isHealthPath(path string) bool {
	for _, p := range []string{"/healthz", "/livez", "/readyz"} {
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}

// serveResource dispatches a resource request to its verb's handler.
func (s *Server) serveResource(w http.ResponseWriter, r *http.Request, info requestInfo) {
	res := s.lookup(info)
	if res == nil {
		writeError(w, r, notFoundResource())
		return
	}
	if !res.Namespaced && info.Namespace != "" {
		writeError(w, r, notFoundResource())
		return
	}
	// As kube-apiserver: the response is negotiated before anything else
	// is done (pods/log answers text/plain, whatever is asked).
	if info.Subresource != "log" {
		if err := acceptable(r, info.Verb); err != nil {
			writeError(w, r, err)
			return
		}
	}
	if err := checkPathSegments(info); err != nil {
		writeError(w, r, err)
		return
	}
	var err error
	switch info.Subresource {
	case "":
		err = s.serveMain(w, r, res, info)
	case "status":
		if !res.HasStatus {
			err = notFoundResource()
		} else {
			err = s.serveStatus(w, r, res, info)
		}
	case "scale":
		if res.Scale == nil {
			err = notFoundResource()
		} else {
			err = s.serveScale(w, r, res, info)
		}
	case "finalize":
		if !res.HasFinalize {
			err = notFoundResource()
		} else {
			err = s.serveFinalize(w, r, res, info)
		}
	case "binding":
		if res != api.Pods {
			err = notFoundResource()
		} else {
			err = s.serveBinding(w, r, info)
		}
	case "log":
		if res != api.Pods {
			err = notFoundResource()
		} else {
			err = s.serveLog(w, r, info)
		}
	default:
		err = notFoundResource()
	}
	if err != nil {
		writeError(w, r, err)
	}
}

func (s *Server) serveMain(w http.ResponseWriter, r *http.Request, res *api.Resource, info requestInfo) error {
	switch info.Verb {
	case "get":
		return s.get(w, r, res, info)
	case "list":
		return s.list(w, r, res, info)
	case "watch":
		return s.watch(w, r, res, info)
	case "create":
		if info.Name != "" {
			return methodNotAllowed()
		}
		return s.create(w, r, res, info)
	case "update":
		return s.update(w, r, res, info, objectPart)
	case "patch":
		return s.patch(w, r, res, info, objectPart)
	case "delete":
		return s.delete(w, r, res, info)
	case "deletecollection":
		return s.deleteCollection(w, r, res, info)
	}
	return methodNotAllowed()
}

func (s *Server) serveStatus(w http.ResponseWriter, r *http.Request, res *api.Resource, info requestInfo) error {
	switch info.Verb {
	case "get":
		return s.get(w, r, res, info)
	case "update":
		return s.update(w, r, res, info, statusPart)
	case "patch":
		return s.patch(w, r, res, info, statusPart)
	}
	return methodNotAllowed()
}

// serveFinalize serves PUT of the finalize subresource, the only verb
// Kubernetes serves there.
func (s *Server) serveFinalize(w http.ResponseWriter, r *http.Request, res *api.Resource, info requestInfo) error {
	if info.Verb != "update" {
		return methodNotAllowed()
	}
	return s.update(w, r, res, info, finalizePart)
}

// lookup finds the resource a request addresses.
func (s *Server) lookup(info requestInfo) *api.Resource {
	for _, res := range s.resources {
		if res.GroupVersion.Group == info.Group && res.GroupVersion.Version == info.Version && res.Plural == info.Resource {
			return res
		}
	}
	return nil
}

// statusRecorder remembers the status code a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.code, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

// Flush lets watch streaming flush through the recorder.
func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
