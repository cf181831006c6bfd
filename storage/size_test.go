package storage_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/shepherd-lab/shepherd/storage"
	"github.com/shepherd-lab/shepherd/storage/embedded"
)

// padded returns pod with a command of n bytes.
func padded(p *corev1.Pod, n int) *corev1.Pod {
	p.Spec.Containers[0].Command = []string{strings.Repeat("x", n)}
	return p
}

// TestObjectSizeLimit: objects are limited to MaxObjectBytes whatever index
// copies their writes carry, as on Kubernetes over a default etcd, and a
// refusal is a *TooLargeError naming the size and the limit.
func TestObjectSizeLimit(t *testing.T) {
	s, ctx := newStore(t), testContext(t)

	// Near the limit and bound: the write carries the object and its node
	// index copy, twice etcd's default request limit. It lands, as the same
	// pod would on Kubernetes, and so do its updates.
	big := padded(pod("default", "big", "n1", nil), storage.MaxObjectBytes-4096)
	if err := s.Create(ctx, pods, big); err != nil {
		t.Fatalf("create a bound pod just under the limit: %v", err)
	}
	if _, err := s.GuaranteedUpdate(ctx, pods, "default", "big", func(cur runtime.Object) (runtime.Object, error) {
		cur.(*corev1.Pod).Status.Phase = corev1.PodRunning
		return cur, nil
	}, nil); err != nil {
		t.Fatalf("update the bound pod: %v", err)
	}
	if got := nodePods(t, s, "n1"); len(got) != 1 {
		t.Fatalf("node index = %v, want the big pod", got)
	}

	over := padded(pod("default", "over", "", nil), storage.MaxObjectBytes)
	err := s.Create(ctx, pods, over)
	var tle *storage.TooLargeError
	if !errors.Is(err, storage.ErrRequestTooLarge) || !errors.As(err, &tle) {
		t.Fatalf("create over the limit: %v, want a TooLargeError", err)
	}
	if tle.Limit != storage.MaxObjectBytes || tle.Size <= storage.MaxObjectBytes || !strings.Contains(err.Error(), "limit is 1572864") {
		t.Fatalf("create over the limit: %+v (%v)", tle, err)
	}
	if _, err := s.Get(ctx, pods, "default", "over"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("the refused pod was stored: %v", err)
	}

	small := pod("default", "small", "", nil)
	if err := s.Create(ctx, pods, small); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GuaranteedUpdate(ctx, pods, "default", "small", func(cur runtime.Object) (runtime.Object, error) {
		return padded(cur.(*corev1.Pod), storage.MaxObjectBytes), nil
	}, nil); !errors.Is(err, storage.ErrRequestTooLarge) {
		t.Fatalf("update over the limit: %v, want ErrRequestTooLarge", err)
	}
	if err := s.CreateMany(ctx, pods, []runtime.Object{padded(pod("default", "many", "", nil), storage.MaxObjectBytes)}); !errors.Is(err, storage.ErrRequestTooLarge) {
		t.Fatalf("CreateMany over the limit: %v, want ErrRequestTooLarge", err)
	}
}

// TestEtcdRequestLimit: an etcd whose --max-request-bytes is below what a
// write needs (an external etcd left at its default, holding a large bound
// pod) refuses it; the store reports that as ErrRequestTooLarge, not as an
// unexplained etcd failure. Both of etcd's refusals are covered: its own
// size check, and gRPC's message limit (its limit plus 512 KiB), which a
// request meets first when it is much larger.
func TestEtcdRequestLimit(t *testing.T) {
	e, err := embedded.Start(embedded.Config{
		DataDir: t.TempDir(), ClientURL: "http://127.0.0.1:0", PeerURL: "http://127.0.0.1:0",
		UnsafeNoFsync: true, MaxRequestBytes: 64 << 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	s, err := storage.Connect(ctx, e.Endpoints(), scheme)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })

	for _, size := range []int{100 << 10, 1 << 20} {
		p := padded(pod("default", "p", "", nil), size)
		err := s.Create(ctx, pods, p)
		var tle *storage.TooLargeError
		if !errors.As(err, &tle) || tle.Limit != 0 || tle.Size <= size {
			t.Fatalf("create of %d bytes over etcd's limit: %v, want a TooLargeError from etcd", size, err)
		}
	}
	p := pod("default", "p", "", nil)
	if err := s.Create(ctx, pods, p); err != nil {
		t.Fatal(err)
	}
	next := padded(p.DeepCopy(), 100<<10)
	if err := s.Update(ctx, pods, p, next); !errors.Is(err, storage.ErrRequestTooLarge) {
		t.Fatalf("update over etcd's limit: %v, want ErrRequestTooLarge", err)
	}
}
