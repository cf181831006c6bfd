package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/utils/ptr"
)

// ElectionConfig names an election and its candidate.
//
// The leader holds a coordination.k8s.io/v1 Lease object (so `kubectl get
// lease -n kube-system` shows who leads, as in Kubernetes) whose key is
// attached to an etcd lease of LeaseDuration: when the leader dies, etcd
// deletes the key once the lease runs out, and a standby's create of the
// key wins the next term. Leadership is the key's create revision, which
// Leadership.Fence turns into a write condition.
type ElectionConfig struct {
	// Leases is the storage of coordination.k8s.io/v1 leases.
	Leases          *Resource
	Namespace, Name string
	// Identity is the candidate's name, recorded as the holder.
	Identity string
	// LeaseDuration is how long a dead leader keeps leadership (15 s in
	// Kubernetes' components). The leader renews every third of it.
	LeaseDuration time.Duration
	Log           *slog.Logger
}

// Leadership is a won election.
type Leadership struct {
	store *Store
	cfg   ElectionConfig
	lease LeaseID
	fence Fence
	lost  chan struct{}
	stop  context.CancelFunc
	done  chan struct{}
}

// Campaign blocks until this candidate leads (or ctx ends), then keeps the
// leadership alive in the background until it is lost or resigned.
func (s *Store) Campaign(ctx context.Context, cfg ElectionConfig) (*Leadership, error) {
	if cfg.LeaseDuration < 2*time.Second {
		return nil, fmt.Errorf("election %s/%s: lease duration %s is under 2s", cfg.Namespace, cfg.Name, cfg.LeaseDuration)
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	key := cfg.Leases.Key(cfg.Namespace, cfg.Name)
	for {
		l, rev, err := s.tryLead(ctx, cfg, key)
		if err != nil {
			return nil, err
		}
		if l != nil {
			return l, nil
		}
		if rev < 0 {
			continue
		}
		cfg.Log.Info("another candidate leads; standing by", "lease", cfg.Namespace+"/"+cfg.Name, "holder", s.holder(ctx, cfg))
		if err := s.waitDeleted(ctx, key, rev); err != nil {
			return nil, err
		}
	}
}

// tryLead creates the leader key once. It returns the leadership, or the
// revision at which another candidate held it (-1: nobody holds it now).
func (s *Store) tryLead(ctx context.Context, cfg ElectionConfig, key string) (*Leadership, int64, error) {
	id, err := s.GrantLease(ctx, cfg.LeaseDuration)
	if err != nil {
		return nil, 0, err
	}
	now := metav1.NewMicroTime(time.Now())
	obj := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: cfg.Namespace, Name: cfg.Name, UID: uuid.NewUUID(), CreationTimestamp: metav1.Now()},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       ptr.To(cfg.Identity),
			LeaseDurationSeconds: ptr.To(int32(cfg.LeaseDuration / time.Second)),
			AcquireTime:          &now,
			RenewTime:            &now,
		},
	}
	err = s.Create(ctx, cfg.Leases, obj, WithLease(id))
	if errors.Is(err, ErrAlreadyExists) {
		_ = s.RevokeLease(context.WithoutCancel(ctx), id)
		// Wait from the revision at which the key is seen held, so that a
		// deletion right after the failed create is not missed.
		resp, gerr := s.client.Get(ctx, key, clientv3.WithKeysOnly())
		if gerr != nil {
			return nil, 0, etcdError(key, gerr)
		}
		if len(resp.Kvs) == 0 {
			return nil, -1, nil // already free again: try at once
		}
		return nil, resp.Header.Revision, nil
	}
	if err != nil {
		_ = s.RevokeLease(context.WithoutCancel(ctx), id)
		return nil, 0, err
	}
	rev, err := Revision(obj)
	if err != nil {
		return nil, 0, err
	}
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	l := &Leadership{
		store: s, cfg: cfg, lease: id,
		fence: Fence{Key: key, CreateRevision: rev},
		lost:  make(chan struct{}), stop: stop, done: make(chan struct{}),
	}
	cfg.Log.Info("became leader", "lease", cfg.Namespace+"/"+cfg.Name, "identity", cfg.Identity)
	go l.renew(runCtx, obj)
	return l, 0, nil
}

// holder names the current leader, for logs.
func (s *Store) holder(ctx context.Context, cfg ElectionConfig) string {
	obj, err := s.Get(ctx, cfg.Leases, cfg.Namespace, cfg.Name)
	if err != nil {
		return ""
	}
	return ptr.Deref(obj.(*coordinationv1.Lease).Spec.HolderIdentity, "")
}

// waitDeleted waits until key is deleted after revision rev (or is already
// gone).
func (s *Store) waitDeleted(ctx context.Context, key string, rev int64) error {
	ctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	for resp := range s.client.Watch(ctx, key, clientv3.WithRev(rev+1)) {
		if err := resp.Err(); err != nil {
			return fmt.Errorf("watch %s: %w", key, err)
		}
		for _, ev := range resp.Events {
			if ev.Type == mvccpb.DELETE {
				return nil
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return nil // the watch broke: let the caller try again
}

// Lost is closed when the leadership ends: the etcd lease could not be
// renewed within its duration, the key was deleted or taken, or Resign.
func (l *Leadership) Lost() <-chan struct{} { return l.lost }

// Fence is the condition that this leadership still holds, for the
// leader's writes (WithFence).
func (l *Leadership) Fence() Fence { return l.fence }

// Resign ends the leadership now: the key is deleted with its etcd lease,
// so a standby takes over at once rather than after the lease duration.
func (l *Leadership) Resign(ctx context.Context) error {
	l.stop()
	<-l.done
	if err := l.store.RevokeLease(ctx, l.lease); err != nil && !isLeaseGone(err) {
		return err
	}
	return nil
}

// renew keeps the etcd lease alive every third of its duration and records
// the renewal in the Lease object. Leadership counts as lost once no renewal
// has succeeded for two thirds of the duration — before etcd can expire the
// key and let another candidate win, as Kubernetes' renew deadline is shorter
// than its lease — or at once when the object is no longer ours.
func (l *Leadership) renew(ctx context.Context, obj *coordinationv1.Lease) {
	defer close(l.done)
	defer close(l.lost)
	period := l.cfg.LeaseDuration / 3
	deadline := 2 * period
	lastRenewed := time.Now() // a lower bound of when etcd last refreshed the lease
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sent := time.Now()
		rctx, cancel := context.WithDeadline(ctx, lastRenewed.Add(deadline))
		err := l.store.KeepAliveOnce(rctx, l.lease)
		if err == nil {
			lastRenewed = sent
			next := obj.DeepCopy()
			next.Spec.RenewTime = ptr.To(metav1.NewMicroTime(sent))
			err = l.store.Update(rctx, l.cfg.Leases, obj, next, WithLease(l.lease), WithFence(l.fence))
			if err == nil {
				obj = next
			}
		}
		cancel()
		switch {
		case err == nil:
		case errors.Is(err, ErrFenced), errors.Is(err, ErrNotFound), errors.Is(err, ErrConflict), isLeaseGone(err):
			l.cfg.Log.Warn("leadership lost", "lease", l.cfg.Namespace+"/"+l.cfg.Name, "err", err)
			return
		case time.Since(lastRenewed) >= deadline:
			l.cfg.Log.Warn("leadership lost: not renewed within the renew deadline", "lease", l.cfg.Namespace+"/"+l.cfg.Name, "deadline", deadline, "err", err)
			return
		default:
			if ctx.Err() == nil {
				l.cfg.Log.Warn("renewing leadership failed; retrying", "err", err)
			}
		}
	}
}

// isLeaseGone reports whether etcd no longer knows the lease (it expired).
func isLeaseGone(err error) bool { return errors.Is(err, rpctypes.ErrLeaseNotFound) }
