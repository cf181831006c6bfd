package main

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-lab/shepherd/test/bench/internal/benchutil"
)

// newPod is the pod every phase creates: a couple of labels and one
// container with an image, a port and resource requests.
func newPod(namespace, name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: namespace,
			Labels:    map[string]string{"app": "bench", "tier": "backend"},
		},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name:  "app",
				Image: "registry.k8s.io/nginx-slim:0.27",
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceCPU:    resource.MustParse("100m"),
					corev1.ResourceMemory: resource.MustParse("128Mi"),
				}},
			}},
		},
	}
}

func (b *bench) createPod(ctx context.Context, namespace, name string) error {
	_, err := b.cs.CoreV1().Pods(namespace).Create(ctx, newPod(namespace, name), metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create pod %s/%s: %w", namespace, name, err)
	}
	return nil
}

// parallel runs fn(i) for every i in [0, n) on c goroutines and returns
// the wall time they took. The first error stops the rest.
func parallel(ctx context.Context, n, c int, fn func(ctx context.Context, i int) error) (time.Duration, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range min(c, n) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := fn(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := context.Cause(ctx); err != nil {
		return 0, err
	}
	return elapsed, nil
}

// profiled runs fn under a CPU profile named for the phase, when profiles
// were asked for.
func (b *bench) profiled(phase string, fn func() error) error {
	if b.cfg.CPUProfile == "" {
		return fn()
	}
	f, err := os.Create(b.cfg.CPUProfile + "-" + phase + ".pprof")
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	defer pprof.StopCPUProfile()
	return fn()
}

// settle waits until the apiserver's background event writes have stopped
// (the event count holds still for 300ms), so they do not run into the
// next measurement. It gives up quietly after 20s.
func (b *bench) settle(ctx context.Context) error {
	deadline := time.Now().Add(20 * time.Second)
	last := int64(-1)
	for time.Now().Before(deadline) {
		n, err := b.raw.Count(ctx, "/registry/events/")
		if err != nil {
			return err
		}
		if n == last {
			return nil
		}
		last = n
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
	return nil
}

// createResult is one concurrency level of the create benchmark.
type createResult struct {
	Concurrency, Ops int
	// APIServer and Raw are operations per second.
	APIServer, Raw float64
	// APIServerCPU and RawCPU are the process's CPU time per operation
	// (etcd, apiserver and client together; 0 where unknown).
	APIServerCPU, RawCPU time.Duration
}

// creates measures n raw etcd create transactions at concurrency c, then n
// pod creates through the apiserver, each after its own warm-up.
func (b *bench) creates(ctx context.Context, c, n int) (createResult, error) {
	r := createResult{Concurrency: c, Ops: n}
	if err := b.settle(ctx); err != nil {
		return r, err
	}
	rawCreate := func(phase string) func(context.Context, int) error {
		return func(ctx context.Context, i int) error {
			return b.raw.CreateTxn(ctx, fmt.Sprintf("%s%s/c%d-%06d", rawPrefix, phase, c, i), b.value)
		}
	}
	if _, err := parallel(ctx, b.cfg.Warmup, c, rawCreate("warmup")); err != nil {
		return r, err
	}
	cpu := benchutil.SelfCPU()
	d, err := parallel(ctx, n, c, rawCreate(benchNS))
	r.RawCPU = (benchutil.SelfCPU() - cpu) / time.Duration(n)
	if err != nil {
		return r, err
	}
	r.Raw = float64(n) / d.Seconds()

	if _, err := parallel(ctx, b.cfg.Warmup, c, func(ctx context.Context, i int) error {
		return b.createPod(ctx, warmNS, fmt.Sprintf("w%d-%06d", c, i))
	}); err != nil {
		return r, err
	}
	// Warm-up events drain before the clock starts.
	if err := b.settle(ctx); err != nil {
		return r, err
	}
	err = b.profiled(fmt.Sprintf("create-c%d", c), func() error {
		cpu := benchutil.SelfCPU()
		defer func() { r.APIServerCPU = (benchutil.SelfCPU() - cpu) / time.Duration(n) }()
		d, err = parallel(ctx, n, c, func(ctx context.Context, i int) error {
			return b.createPod(ctx, benchNS, fmt.Sprintf("c%d-%06d", c, i))
		})
		return err
	})
	if err != nil {
		return r, err
	}
	r.APIServer = float64(n) / d.Seconds()
	return r, b.settle(ctx)
}
