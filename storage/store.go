package storage

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/runtime"
)

// Store reads and writes API objects in etcd. It is safe for concurrent use.
type Store struct {
	client  *clientv3.Client
	codec   codec
	metrics *Metrics
	log     *slog.Logger
	owned   bool          // the store created the client and closes it
	streams atomic.Uint64 // names the gRPC streams of progress-notified watches
}

// Option configures a Store.
type Option func(*Store)

// WithMetrics records etcd request latencies in m.
func WithMetrics(m *Metrics) Option { return func(s *Store) { s.metrics = m } }

// WithLogger sets the store's logger.
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.log = l } }

// New returns a store over an existing etcd client. scheme must know every
// type the store is asked to encode or decode.
func New(client *clientv3.Client, scheme *runtime.Scheme, opts ...Option) *Store {
	s := &Store{client: client, codec: newCodec(scheme), log: slog.Default()}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Connect dials the etcd cluster at endpoints (URLs such as
// http://127.0.0.1:2379) and returns a store that owns the connection. It
// waits, within ctx, until etcd answers.
func Connect(ctx context.Context, endpoints []string, scheme *runtime.Scheme, opts ...Option) (*Store, error) {
	client, err := Dial(ctx, endpoints)
	if err != nil {
		return nil, err
	}
	s := New(client, scheme, opts...)
	s.owned = true
	return s, nil
}

// Dial returns an etcd client for endpoints, once etcd answers a quorum
// read within ctx. Connect uses it; so does anything else in storage/ that
// needs a bare client.
func Dial(ctx context.Context, endpoints []string) (*clientv3.Client, error) {
	if len(endpoints) == 0 {
		return nil, fmt.Errorf("no etcd endpoints given")
	}
	client, err := clientv3.New(clientv3.Config{
		Endpoints:            endpoints,
		DialTimeout:          10 * time.Second,
		DialKeepAliveTime:    30 * time.Second,
		DialKeepAliveTimeout: 10 * time.Second,
		// Objects up to the apiserver's 3 MiB body limit, plus index copies.
		MaxCallSendMsgSize: 16 << 20,
		MaxCallRecvMsgSize: 1 << 30,
		Logger:             zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("connect to etcd %s: %w", strings.Join(endpoints, ","), err)
	}
	if _, err := client.Get(ctx, "/", clientv3.WithCountOnly(), clientv3.WithLimit(1)); err != nil {
		client.Close()
		return nil, fmt.Errorf("etcd %s: %w", strings.Join(endpoints, ","), err)
	}
	return client, nil
}

// Close releases the etcd connection if the store created it.
func (s *Store) Close() error {
	if s.owned {
		return s.client.Close()
	}
	return nil
}

// Ping checks that etcd answers a linearizable read within ctx.
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.CurrentRevision(ctx)
	return err
}

// CurrentRevision returns etcd's current revision, read through a quorum.
func (s *Store) CurrentRevision(ctx context.Context) (int64, error) {
	start := time.Now()
	resp, err := s.client.Get(ctx, "/", clientv3.WithCountOnly(), clientv3.WithLimit(1))
	s.metrics.observe("currentRevision", "", start)
	if err != nil {
		return 0, fmt.Errorf("etcd: %w", err)
	}
	return resp.Header.Revision, nil
}
