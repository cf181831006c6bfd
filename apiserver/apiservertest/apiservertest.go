// Package apiservertest runs a real apiserver, with an embedded etcd, inside
// a test process.
package apiservertest

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/apiserver"
	"github.com/shepherd-lab/shepherd/storage"
)

// Server is a running test apiserver.
type Server struct {
	URL    string
	Config *rest.Config
	Client kubernetes.Interface
	// Store reaches the same etcd directly, for what clients cannot do
	// (compacting, say).
	Store *storage.Store
	// EtcdEndpoints are the etcd the server uses.
	EtcdEndpoints []string

	stop func()
}

// Stop shuts the apiserver down now (it is also stopped when the test
// ends). Its etcd keeps running if it was external.
func (s *Server) Stop() { s.stop() }

// Option adjusts the apiserver's options.
type Option func(*apiserver.Options)

// WithEtcd runs the apiserver against an etcd that outlives it.
func WithEtcd(endpoints []string) Option {
	return func(o *apiserver.Options) { o.EtcdServers = endpoints }
}

// WithPort serves on a given port (to restart a server where clients
// expect it).
func WithPort(port int) Option { return func(o *apiserver.Options) { o.Port = port } }

// Start runs an apiserver for the duration of the test.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	o := apiserver.DefaultOptions()
	o.Port = 0
	o.DataDir = t.TempDir()
	o.EtcdListenClientURL = "http://127.0.0.1:0"
	o.EtcdListenPeerURL = "http://127.0.0.1:0"
	o.EtcdUnsafeNoFsync = true
	level := slog.LevelWarn
	if os.Getenv("SHEPHERD_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	for _, f := range opts {
		f(&o)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan apiserver.Serving, 1)
	done := make(chan error, 1)
	go func() { done <- apiserver.Run(ctx, o, func(s apiserver.Serving) { ready <- s }) }()
	var serving apiserver.Serving
	select {
	case serving = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("apiserver did not start: %v", err)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatal("apiserver did not start within 60s")
	}
	var stopOnce sync.Once
	stop := func() {
		stopOnce.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("apiserver: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	cfg := &rest.Config{Host: serving.URL, QPS: -1}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer scancel()
	store, err := storage.Connect(sctx, serving.EtcdEndpoints, api.Scheme)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	s := &Server{URL: serving.URL, Config: cfg, Client: client, Store: store, EtcdEndpoints: serving.EtcdEndpoints, stop: stop}
	s.waitReady(t)
	return s
}

// waitReady waits until /readyz passes (the watch caches are filled).
func (s *Server) waitReady(t testing.TB) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		body, err := s.Client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(context.Background())
		if err == nil && string(body) == "ok" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("apiserver not ready after 30s: %v %s", err, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
