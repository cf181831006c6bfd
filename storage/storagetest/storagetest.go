// Package storagetest starts etcd servers for tests.
package storagetest

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/shepherd-lab/shepherd/storage"
	"github.com/shepherd-lab/shepherd/storage/embedded"
)

// StartEtcd runs an embedded etcd on free loopback ports in a temporary
// directory for the duration of the test and returns its client endpoints.
func StartEtcd(t testing.TB) []string {
	t.Helper()
	e, err := embedded.Start(embedded.Config{
		DataDir:       t.TempDir(),
		ClientURL:     "http://127.0.0.1:0",
		PeerURL:       "http://127.0.0.1:0",
		UnsafeNoFsync: true,
	})
	if err != nil {
		t.Fatalf("start etcd: %v", err)
	}
	t.Cleanup(e.Close)
	return e.Endpoints()
}

// NewStore starts an embedded etcd and returns a store connected to it.
func NewStore(t testing.TB, scheme *runtime.Scheme) *storage.Store {
	t.Helper()
	endpoints := StartEtcd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := storage.Connect(ctx, endpoints, scheme)
	if err != nil {
		t.Fatalf("connect to etcd: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
