package storage

import (
	"context"
	"fmt"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// GrantLease creates an etcd lease that expires after ttl unless kept alive.
func (s *Store) GrantLease(ctx context.Context, ttl time.Duration) (LeaseID, error) {
	secs := int64((ttl + time.Second - 1) / time.Second)
	resp, err := s.client.Grant(ctx, max(secs, 1))
	if err != nil {
		return 0, fmt.Errorf("grant etcd lease of %s: %w", ttl, err)
	}
	return LeaseID(resp.ID), nil
}

// KeepAliveOnce renews a lease for another full TTL.
func (s *Store) KeepAliveOnce(ctx context.Context, id LeaseID) error {
	_, err := s.client.KeepAliveOnce(ctx, clientv3.LeaseID(id))
	if err != nil {
		return fmt.Errorf("renew etcd lease %x: %w", id, err)
	}
	return nil
}

// RevokeLease ends a lease now, deleting every key attached to it.
func (s *Store) RevokeLease(ctx context.Context, id LeaseID) error {
	if _, err := s.client.Revoke(ctx, clientv3.LeaseID(id)); err != nil {
		return fmt.Errorf("revoke etcd lease %x: %w", id, err)
	}
	return nil
}

// LeasePool hands out leases for keys that should expire after a fixed TTL
// (events, say), sharing one lease among the keys written within a short
// window instead of granting a lease per key. A key may thus live up to the
// window longer than the TTL.
type LeasePool struct {
	store  *Store
	ttl    time.Duration
	window time.Duration

	mu      sync.Mutex
	current LeaseID
	granted time.Time
}

// NewLeasePool returns a pool of leases of the given TTL, each shared by
// the writes of one window (a tenth of the TTL, at most a minute).
func (s *Store) NewLeasePool(ttl time.Duration) *LeasePool {
	return &LeasePool{store: s, ttl: ttl, window: min(ttl/10, time.Minute)}
}

// Lease returns a lease that expires between TTL and TTL+window from now.
func (p *LeasePool) Lease(ctx context.Context) (LeaseID, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if p.current != 0 && now.Sub(p.granted) < p.window {
		return p.current, nil
	}
	id, err := p.store.GrantLease(ctx, p.ttl+p.window)
	if err != nil {
		return 0, err
	}
	p.current, p.granted = id, now
	return id, nil
}

// IsLeaseNotFound reports whether err says etcd no longer knows a lease
// (it expired, or was revoked).
func IsLeaseNotFound(err error) bool { return isLeaseGone(err) }
