package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/shepherd-lab/shepherd/test/bench/internal/benchutil"
)

// watchResult is the watch benchmark.
type watchResult struct {
	Watchers, Pods int
	Delivered      int                 // of Watchers*Pods
	Delivery       benchutil.Latencies // every delivery
	// First is, per pod, its earliest delivery; Spread, per pod, the time
	// from its earliest to its latest delivery (the fan-out).
	First, Spread benchutil.Latencies
	Create        benchutil.Latencies // the create calls' own latency
}

// watches opens Watchers client-go watches on the namespace, from its
// current resourceVersion, then creates WatchPods pods at a steady pace.
// A delivery's latency runs from just before its pod's create call to the
// ADDED event's arrival at the watcher.
func (b *bench) watches(ctx context.Context) (*watchResult, error) {
	n, pods := b.cfg.Watchers, b.cfg.WatchPods
	podsAPI := b.cs.CoreV1().Pods(benchNS)
	head, err := podsAPI.List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// sent[k] is when pod k's create call began, as time since epoch (so
	// the monotonic clock measures every latency).
	epoch := time.Now()
	sent := make([]atomic.Int64, pods)
	// got[i][k] is watcher i's delivery latency of pod k; 0 until then.
	got := make([]benchutil.Latencies, n)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for i := range n {
		w, err := podsAPI.Watch(ctx, metav1.ListOptions{ResourceVersion: head.ResourceVersion})
		if err != nil {
			return nil, fmt.Errorf("watch %d: %w", i, err)
		}
		got[i] = make(benchutil.Latencies, pods)
		wg.Go(func() {
			defer w.Stop()
			for received := 0; received < pods; {
				select {
				case <-ctx.Done():
					return
				case e, ok := <-w.ResultChan():
					now := time.Since(epoch)
					if !ok {
						return
					}
					pod, isPod := e.Object.(*corev1.Pod)
					if e.Type != watch.Added || !isPod {
						continue
					}
					k, err := strconv.Atoi(strings.TrimPrefix(pod.Name, "watch-"))
					if err != nil || k < 0 || k >= pods || got[i][k] != 0 {
						continue
					}
					got[i][k] = max(now-time.Duration(sent[k].Load()), 1)
					received++
				}
			}
		})
	}

	r := &watchResult{Watchers: n, Pods: pods, Create: make(benchutil.Latencies, pods)}
	err = b.profiled("watch", func() error {
		var creates sync.WaitGroup
		errs := make(chan error, pods)
		tick := time.NewTicker(b.cfg.WatchInterval)
		defer tick.Stop()
		for k := range pods {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-tick.C:
			}
			creates.Go(func() {
				start := time.Now()
				sent[k].Store(int64(start.Sub(epoch)))
				if err := b.createPod(ctx, benchNS, fmt.Sprintf("watch-%06d", k)); err != nil {
					errs <- err
				}
				r.Create[k] = time.Since(start)
			})
		}
		creates.Wait()
		close(errs)
		if err := <-errs; err != nil {
			return err
		}
		// Every watcher stops once it has every pod; wait for that, or
		// give up on the stragglers.
		all := make(chan struct{})
		go func() { wg.Wait(); close(all) }()
		select {
		case <-all:
		case <-time.After(30 * time.Second):
			cancel()
			<-all
		}
		return nil
	})
	cancel()
	wg.Wait()
	if err != nil {
		return nil, err
	}
	for k := range pods {
		first, last := time.Duration(0), time.Duration(0)
		for i := range n {
			d := got[i][k]
			if d == 0 {
				continue
			}
			r.Delivered++
			r.Delivery = append(r.Delivery, d)
			if first == 0 || d < first {
				first = d
			}
			last = max(last, d)
		}
		if first > 0 {
			r.First = append(r.First, first)
			r.Spread = append(r.Spread, last-first)
		}
	}
	return r, nil
}
