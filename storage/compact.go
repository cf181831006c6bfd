package storage

import (
	"context"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// compactKey records the revision of the last compaction round. Its version
// is a round counter: a store only compacts when it wins the round's
// compare-and-swap, so several apiservers sharing one etcd compact once per
// interval between them.
const compactKey = "/shepherd/compact_rev_key"

// RunCompactor compacts etcd every interval, keeping interval's worth of
// history: each round compacts up to the revision recorded one round
// earlier. It returns when ctx is done.
func (s *Store) RunCompactor(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var round, rev int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var err error
		round, rev, err = s.compactRound(ctx, round, rev)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("etcd compaction failed", "err", err)
		}
	}
}

// compactRound claims round `round` and compacts to rev (the revision
// recorded by the previous round). It returns the next round and the
// revision to compact to in it.
func (s *Store) compactRound(ctx context.Context, round, rev int64) (int64, int64, error) {
	start := time.Now()
	resp, err := s.client.Txn(ctx).
		If(clientv3.Compare(clientv3.Version(compactKey), "=", round)).
		Then(clientv3.OpPut(compactKey, strconv.FormatInt(rev, 10))).
		Else(clientv3.OpGet(compactKey)).
		Commit()
	s.metrics.observe("compactRound", "", start)
	if err != nil {
		return round, rev, err
	}
	cur := resp.Header.Revision
	if !resp.Succeeded {
		// Another store ran this round; follow its count.
		if kv := rangeResult(resp, 0); kv != nil {
			return kv.Version, cur, nil
		}
		return round, cur, nil
	}
	if rev > 0 {
		start := time.Now()
		_, err := s.client.Compact(ctx, rev)
		s.metrics.observe("compact", "", start)
		if err != nil {
			return round + 1, cur, err
		}
		s.log.Debug("compacted etcd", "revision", rev)
	}
	return round + 1, cur, nil
}

// Compact compacts etcd's history up to rev now. Tests use it to expire old
// revisions.
func (s *Store) Compact(ctx context.Context, rev int64) error {
	_, err := s.client.Compact(ctx, rev, clientv3.WithCompactPhysical())
	return etcdError("compact", err)
}
