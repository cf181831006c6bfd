package controller

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func get(t *testing.T, q *Queue) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	k, ok := q.Get(ctx)
	if !ok {
		t.Fatal("no key")
	}
	return k
}

// A key added many times is processed once; one added while processing
// comes back after Done, never to a second worker at the same time.
func TestQueueDeduplicates(t *testing.T) {
	reg := prometheus.NewRegistry()
	q := NewQueue("test", NewQueueMetrics(reg))
	q.Add("a")
	q.Add("b")
	q.Add("a")
	if q.Len() != 2 {
		t.Fatalf("len %d, want 2", q.Len())
	}
	k := get(t, q)
	if k != "a" {
		t.Fatalf("got %q first, want a (FIFO)", k)
	}
	q.Add("a") // while processing
	if k2 := get(t, q); k2 != "b" {
		t.Fatalf("got %q while a is processing, want b", k2)
	}
	if q.Len() != 0 {
		t.Fatalf("a handed out again while still processing")
	}
	q.Done("a")
	if k3 := get(t, q); k3 != "a" {
		t.Fatalf("after Done, got %q, want a again", k3)
	}
	if got := counterValue(t, reg, "workqueue_adds_total"); got != 3 {
		t.Errorf("workqueue_adds_total %v, want 3 (a, b, a while processing)", got)
	}
}

func TestQueueAddAfterAndShutdown(t *testing.T) {
	q := NewQueue("test", nil)
	q.AddAfter("later", 20*time.Millisecond)
	if q.Len() != 0 {
		t.Fatal("AddAfter queued at once")
	}
	if k := get(t, q); k != "later" {
		t.Fatalf("got %q", k)
	}
	q.ShutDown()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, ok := q.Get(ctx); ok {
		t.Fatal("Get after ShutDown returned a key")
	}
	if ctx.Err() != nil {
		t.Fatal("Get after ShutDown blocked")
	}
}

// Work retries failing keys with growing back-off and forgets it on
// success; it stops when ctx ends.
func TestWorkRetriesThenForgets(t *testing.T) {
	reg := prometheus.NewRegistry()
	q := NewQueue("test", NewQueueMetrics(reg))
	q.BaseDelay = time.Millisecond
	var calls atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Work(ctx, q, 2, func(_ context.Context, key string) error {
			if calls.Add(1) < 3 {
				return errors.New("not yet")
			}
			cancel()
			return nil
		}, nil)
	}()
	q.Add("k")
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Work did not stop")
	}
	if calls.Load() != 3 {
		t.Fatalf("calls %d; want 3 (2 failures, then success)", calls.Load())
	}
	if got := counterValue(t, reg, "workqueue_retries_total"); got != 2 {
		t.Errorf("workqueue_retries_total %v, want 2", got)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.failures["k"] != 0 {
		t.Errorf("back-off not forgotten after success: %d", q.failures["k"])
	}
}

func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no %s", name)
	return 0
}
