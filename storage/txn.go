package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// LeaseID identifies an etcd lease. Keys written with a lease are deleted by
// etcd when the lease expires.
type LeaseID int64

// WriteOption modifies a create or update.
type WriteOption func(*writeOptions)

type writeOptions struct {
	lease  LeaseID
	fences []Fence
}

// Fence makes a write conditional on the holder of a key being unchanged:
// the key must still exist with the same create revision. A leader passes
// its leadership's fence (Leadership.Fence) so that a write it issues after
// losing the election fails with ErrFenced instead of landing.
type Fence struct {
	Key            string
	CreateRevision int64
}

// WithFence adds a fence to a create or update.
func WithFence(f Fence) WriteOption {
	return func(o *writeOptions) { o.fences = append(o.fences, f) }
}

// fenceCmps are the comparisons that hold while every fence does.
func (o *writeOptions) fenceCmps() []clientv3.Cmp {
	var cmps []clientv3.Cmp
	for _, f := range o.fences {
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(f.Key), "=", f.CreateRevision))
	}
	return cmps
}

// WithLease attaches the written keys (object, index entries and claims) to
// an etcd lease, so they vanish when it expires.
func WithLease(id LeaseID) WriteOption { return func(o *writeOptions) { o.lease = id } }

func (o *writeOptions) putOpts() []clientv3.OpOption {
	if o.lease != 0 {
		return []clientv3.OpOption{clientv3.WithLease(clientv3.LeaseID(o.lease))}
	}
	return nil
}

func collectWriteOptions(opts []WriteOption) writeOptions {
	var o writeOptions
	for _, f := range opts {
		f(&o)
	}
	return o
}

// txn runs one transaction and records its latency.
func (s *Store) txn(ctx context.Context, op, typ string, cmps []clientv3.Cmp, then, els []clientv3.Op) (*clientv3.TxnResponse, error) {
	start := time.Now()
	resp, err := s.client.Txn(ctx).If(cmps...).Then(then...).Else(els...).Commit()
	s.metrics.observe(op, typ, start)
	return resp, err
}

// rangeResult returns the single key-value of the i'th response of a failed
// transaction's Else branch, or nil when the key does not exist.
func rangeResult(resp *clientv3.TxnResponse, i int) *mvccpb.KeyValue {
	if i >= len(resp.Responses) {
		return nil
	}
	rr := resp.Responses[i].GetResponseRange()
	if rr == nil || len(rr.Kvs) == 0 {
		return nil
	}
	return rr.Kvs[0]
}

// claimError finds which of the claims (the Else ranges from index first on)
// is held, and says by whom.
func claimError(key string, claims []string, resp *clientv3.TxnResponse, first int) error {
	for i, c := range claims {
		if kv := rangeResult(resp, first+i); kv != nil {
			return &ClaimedError{Key: key, Claim: c[len(ClaimKey("")):], Owner: string(kv.Value)}
		}
	}
	return nil
}

// diff returns the strings of a not in b.
func diff(a, b []string) []string {
	var out []string
	for _, x := range a {
		found := false
		for _, y := range b {
			if x == y {
				found = true
				break
			}
		}
		if !found {
			out = append(out, x)
		}
	}
	return out
}

// etcdError maps etcd's errors onto the store's sentinels.
func etcdError(key string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, rpctypes.ErrCompacted):
		return fmt.Errorf("%s: %w", key, ErrExpired)
	case errors.Is(err, rpctypes.ErrFutureRev):
		return fmt.Errorf("%s: %w", key, ErrFutureRevision)
	}
	return fmt.Errorf("etcd %s: %w", key, err)
}

// writeError maps the error of a write transaction carrying an object of
// size bytes: etcd's refusal of its size becomes a *TooLargeError.
func writeError(key string, size int, err error) error {
	if isTooLarge(err) {
		return &TooLargeError{Key: key, Size: size}
	}
	return etcdError(key, err)
}

// isTooLarge reports whether etcd refused a request for its size: the
// server's own check (--max-request-bytes), or gRPC's message limits on
// either side, which are checked before etcd sees the request.
func isTooLarge(err error) bool {
	if errors.Is(err, rpctypes.ErrRequestTooLarge) {
		return true
	}
	st, ok := status.FromError(err)
	return ok && st.Code() == codes.ResourceExhausted && strings.Contains(st.Message(), "larger than max")
}
