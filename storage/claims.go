package storage

import (
	"context"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// ListClaims returns the claims held under a claim prefix (for instance
// "serviceips/"), so an allocator can choose a free value.
func (s *Store) ListClaims(ctx context.Context, prefix string) ([]string, error) {
	key := ClaimKey(prefix)
	start := time.Now()
	resp, err := s.client.Get(ctx, key, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	s.metrics.observe("list", "claims", start)
	if err != nil {
		return nil, etcdError(key, err)
	}
	claims := make([]string, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		claims = append(claims, strings.TrimPrefix(string(kv.Key), ClaimKey("")))
	}
	return claims, nil
}
