package storage_test

import (
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/shepherd-lab/shepherd/storage"
)

func TestLeasedObjectsExpire(t *testing.T) {
	s, ctx := newStore(t), testContext(t)
	id, err := s.GrantLease(ctx, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := &corev1.ConfigMap{ObjectMeta: objectMeta("default", "leased")}
	c.Annotations = map[string]string{"claim": "leased"}
	if err := s.Create(ctx, configMaps, c, storage.WithLease(id)); err != nil {
		t.Fatal(err)
	}
	if err := s.KeepAliveOnce(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeLease(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, configMaps, "default", "leased"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("leased object after revoke: %v, want ErrNotFound", err)
	}
	// Its claim went with it.
	if err := s.Create(ctx, configMaps, &corev1.ConfigMap{ObjectMeta: objectMeta("default", "other"), Data: nil}); err != nil {
		t.Fatal(err)
	}
	o := &corev1.ConfigMap{ObjectMeta: objectMeta("default", "claimer")}
	o.Annotations = map[string]string{"claim": "leased"}
	if err := s.Create(ctx, configMaps, o); err != nil {
		t.Fatalf("claim of an expired object still held: %v", err)
	}
}

func TestLeasePoolSharesLeases(t *testing.T) {
	s, ctx := newStore(t), testContext(t)
	pool := s.NewLeasePool(time.Hour)
	a, err := pool.Lease(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := pool.Lease(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a != b || a == 0 {
		t.Fatalf("two leases within the window: %x and %x, want one shared lease", a, b)
	}
}

func TestCompactorKeepsOneInterval(t *testing.T) {
	s, ctx := newStore(t), testContext(t)
	first := pod("default", "first", "", nil)
	if err := s.Create(ctx, pods, first); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	cctx, cancel := testContextCancel(t)
	go func() { s.RunCompactor(cctx, 100*time.Millisecond); close(done) }()
	// After a few rounds, the first revision is gone and a watch from it is
	// refused; the current state is intact.
	deadline := time.Now().Add(20 * time.Second)
	for {
		if err := s.Create(ctx, pods, pod("default", "tick"+time.Now().Format("150405.000000000"), "", nil)); err != nil {
			t.Fatal(err)
		}
		_, err := s.List(ctx, pods, storage.ListOptions{Revision: rv(t, first)})
		if errors.Is(err, storage.ErrExpired) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("revision %d still readable after 20s of 100ms compactions (last error %v)", rv(t, first), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	<-done
	if _, err := s.Get(ctx, pods, "default", "first"); err != nil {
		t.Fatalf("current state lost by compaction: %v", err)
	}
}
