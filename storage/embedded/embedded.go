// Package embedded runs an etcd server inside the calling process (the
// apiserver's default, and tests). It is apart from storage so that
// components that only talk to etcd do not link its server.
package embedded

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"time"

	"go.etcd.io/etcd/server/v3/embed"

	"github.com/shepherd-lab/shepherd/storage"
)

// Config configures an etcd server run inside the calling process.
type Config struct {
	// DataDir holds etcd's write-ahead log and database.
	DataDir string
	// ClientURL and PeerURL are where etcd listens, e.g.
	// http://127.0.0.1:2379 and http://127.0.0.1:2380. Port 0 picks a free
	// port; Endpoints reports the one chosen. Plain HTTP is served on
	// loopback addresses only.
	ClientURL, PeerURL string
	// Name is the member's name; "shepherd" when empty.
	Name string
	// LogLevel is the least level of etcd's own messages that are logged;
	// "error" when empty (etcd warns about settings that are deliberate
	// here, such as one port for HTTP and gRPC).
	LogLevel string
	// Logger receives etcd's messages; slog.Default() when nil.
	Logger *slog.Logger
	// UnsafeNoFsync skips fsync; for tests only, where losing data on a
	// crash does not matter.
	UnsafeNoFsync bool
	// ReadyTimeout bounds the wait for etcd to serve; 60s when zero.
	ReadyTimeout time.Duration
	// MaxRequestBytes is etcd's --max-request-bytes, the largest request it
	// accepts; storage.EtcdMaxRequestBytes when zero, what the store needs
	// to write every object it allows with its index copies.
	MaxRequestBytes uint
}

// Server is a running etcd server.
type Server struct {
	etcd      *embed.Etcd
	endpoints []string
}

// Start starts etcd and returns once it serves clients.
func Start(cfg Config) (*Server, error) {
	client, err := loopbackURL("etcd client", cfg.ClientURL)
	if err != nil {
		return nil, err
	}
	peer, err := loopbackURL("etcd peer", cfg.PeerURL)
	if err != nil {
		return nil, err
	}
	ec := embed.NewConfig()
	ec.Dir = cfg.DataDir
	ec.Name = cfg.Name
	if ec.Name == "" {
		ec.Name = "shepherd"
	}
	ec.ListenClientUrls = []url.URL{*client}
	ec.AdvertiseClientUrls = []url.URL{*client}
	ec.ListenPeerUrls = []url.URL{*peer}
	ec.AdvertisePeerUrls = []url.URL{*peer}
	ec.InitialCluster = ec.InitialClusterFromName(ec.Name)
	if cfg.LogLevel == "" {
		cfg.LogLevel = "error"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(newEtcdLogger(log, cfg.LogLevel))
	ec.UnsafeNoFsync = cfg.UnsafeNoFsync
	ec.MaxRequestBytes = cfg.MaxRequestBytes
	if ec.MaxRequestBytes == 0 {
		ec.MaxRequestBytes = storage.EtcdMaxRequestBytes
	}
	// Compaction is the store's job (RunCompactor), as with an external etcd.
	ec.AutoCompactionRetention = "0"

	e, err := embed.StartEtcd(ec)
	if err != nil {
		return nil, fmt.Errorf("start embedded etcd in %s: %w", cfg.DataDir, err)
	}
	timeout := cfg.ReadyTimeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedded etcd: %w", err)
	case <-time.After(timeout):
		e.Server.Stop()
		e.Close()
		return nil, fmt.Errorf("embedded etcd in %s not ready after %s", cfg.DataDir, timeout)
	}
	endpoints := make([]string, 0, len(e.Clients))
	for _, l := range e.Clients {
		endpoints = append(endpoints, client.Scheme+"://"+l.Addr().String())
	}
	return &Server{etcd: e, endpoints: endpoints}, nil
}

// Endpoints returns the URLs clients reach the server at.
func (e *Server) Endpoints() []string { return e.endpoints }

// Err reports a fatal error of the running server.
func (e *Server) Err() <-chan error { return e.etcd.Err() }

// Close stops the server, waiting for in-flight requests and a clean close
// of its database.
func (e *Server) Close() { e.etcd.Close() }

func loopbackURL(what, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s URL %q: %w", what, raw, err)
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("%s URL %q: only http:// is supported until etcd TLS exists", what, raw)
	}
	host := u.Hostname()
	ip := net.ParseIP(host)
	if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("%s URL %q: plain HTTP is served on loopback addresses only", what, raw)
	}
	return u, nil
}

// Wait blocks until ctx is done or the server fails.
func (e *Server) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-e.etcd.Err():
		return err
	}
}
