// Package rawetcd gives benchmarks bare etcd operations to compare the
// apiserver against: the same transaction shapes the store uses, without
// encoding, decoding, HTTP or caches.
//
// It exists for benchmarks only. Everything else reaches etcd through
// package storage, which keeps the project's rule that only storage and its
// subpackages import the etcd client.
package rawetcd

import (
	"context"
	"errors"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/shepherd-lab/shepherd/storage"
)

// ErrExists means CreateTxn found its key already written.
var ErrExists = errors.New("key already exists")

// Client is one etcd connection, dialled as storage.Connect dials it, so a
// comparison with the store measures the same gRPC path.
type Client struct {
	c *clientv3.Client
}

// Dial connects to the etcd cluster at endpoints and waits, within ctx,
// until it answers a quorum read.
func Dial(ctx context.Context, endpoints []string) (*Client, error) {
	c, err := storage.Dial(ctx, endpoints)
	if err != nil {
		return nil, err
	}
	return &Client{c: c}, nil
}

// Close releases the connection.
func (c *Client) Close() error { return c.c.Close() }

// CreateTxn writes value at key in the transaction shape of a store create
// with no index or claim keys:
//
//	If(ModRevision(key) == 0) Then(Put(key, value)) Else(Get(key))
//
// It fails with ErrExists when the key is taken.
func (c *Client) CreateTxn(ctx context.Context, key string, value []byte) error {
	resp, err := c.c.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, string(value))).
		Else(clientv3.OpGet(key)).
		Commit()
	if err != nil {
		return fmt.Errorf("etcd create %s: %w", key, err)
	}
	if !resp.Succeeded {
		return fmt.Errorf("%s: %w", key, ErrExists)
	}
	return nil
}

// Get returns the value stored at key, or nil when there is none. It is a
// quorum read, as the store's Get.
func (c *Client) Get(ctx context.Context, key string) ([]byte, error) {
	resp, err := c.c.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("etcd get %s: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, nil
	}
	return resp.Kvs[0].Value, nil
}

// RangePrefix reads every key under prefix in one quorum range, as the
// store's unpaginated List does, and returns how many keys it found and the
// total size of their values.
func (c *Client) RangePrefix(ctx context.Context, prefix string) (count, bytes int, err error) {
	resp, err := c.c.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return 0, 0, fmt.Errorf("etcd range %s: %w", prefix, err)
	}
	for _, kv := range resp.Kvs {
		bytes += len(kv.Value)
	}
	return len(resp.Kvs), bytes, nil
}

// DeletePrefix removes every key under prefix and returns how many it
// removed.
func (c *Client) DeletePrefix(ctx context.Context, prefix string) (int64, error) {
	resp, err := c.c.Delete(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return 0, fmt.Errorf("etcd delete %s: %w", prefix, err)
	}
	return resp.Deleted, nil
}

// Count returns how many keys there are under prefix, without reading
// their values.
func (c *Client) Count(ctx context.Context, prefix string) (int64, error) {
	resp, err := c.c.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return 0, fmt.Errorf("etcd count %s: %w", prefix, err)
	}
	return resp.Count, nil
}
