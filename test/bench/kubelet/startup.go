package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-lab/shepherd/test/bench/internal/benchutil"
)

// deleteGrace is the grace period the benchmark deletes its pods with:
// `sleep` as a container's PID 1 ignores SIGTERM, so the kubelet kills it
// when the grace period ends.
const deleteGrace = 1

// startup is step 1's figures.
type startup struct {
	Pods, Running int
	// CreateSpan is from the first create sent to the last acknowledged.
	CreateSpan time.Duration
	// Latency is each Running pod's, from its create acknowledged to the
	// watch event showing it Running; FromSent from the create sent;
	// CreateCall is the create itself, sent to acknowledged.
	Latency, FromSent, CreateCall benchutil.Latencies
	// Early counts pods seen Running before their create was acknowledged
	// (their latency counts as 0).
	Early int
	// FirstRunning and Span are from the first create sent to the first
	// and the last pod seen Running.
	FirstRunning, Span time.Duration
	Events             int // watch events of these pods until all were Running (or the wait ended)
	// Stuck describes each pod that never reached Running.
	Stuck []string
	// From the kubelet's /metrics once every pod ran.
	SLI          histogram
	RuntimeOps   []opMean
	RunningPods  float64 // kubelet_running_pods
	MetricsError string
}

func (s startup) complete() bool { return s.Pods > 0 && s.Running == s.Pods }

// rate is the pods created per second, first sent to last acknowledged.
func (s startup) rate() float64 {
	if s.CreateSpan <= 0 {
		return 0
	}
	return float64(s.Pods) / s.CreateSpan.Seconds()
}

// throughput is the pods Running per second, first sent to last Running.
func (s startup) throughput() float64 {
	if s.Span <= 0 {
		return 0
	}
	return float64(s.Running) / s.Span.Seconds()
}

func podName(i int) string { return fmt.Sprintf("kbench-%03d", i) }

func podNames(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, podName(i))
	}
	return out
}

// newPod is a pod already bound to the node: no scheduler is involved.
func newPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: map[string]string{benchLabel: benchValue}},
		Spec: corev1.PodSpec{
			NodeName: nodeName,
			Containers: []corev1.Container{{
				Name:            "sleep",
				Image:           podImage,
				ImagePullPolicy: corev1.PullIfNotPresent,
				Command:         []string{"sleep", "3600"},
			}},
		},
	}
}

// measureStartup creates the pods, waits for every one to be Running (or
// for the wait to stall), and scrapes the kubelet's own figures.
func (c *cluster) measureStartup(ctx context.Context, t *tracker, res *results) error {
	s := &res.Startup
	names := podNames(0, c.cfg.Pods)
	s.Pods = len(names)
	events0 := t.eventCount()
	begin := time.Now()
	if err := c.createPods(ctx, t, names, c.cfg.QPS); err != nil {
		return err
	}
	err := t.waitFor(ctx, names, c.cfg.StallTimeout, func(p *podTrack) bool { return p.Running.IsZero() })
	if err != nil && !isStall(err) {
		return err
	}
	s.Events = t.eventCount() - events0

	var lastAck time.Time
	for i, p := range t.snapshot(names) {
		if p.Acked.After(lastAck) {
			lastAck = p.Acked
		}
		if p.Running.IsZero() {
			why := fmt.Sprintf("phase %q", p.Phase)
			if p.Phase == "" {
				why = "no status written"
			}
			if p.Waiting != "" {
				why += ", " + p.Waiting
			}
			s.Stuck = append(s.Stuck, fmt.Sprintf("%s: %s (%d watch events)", names[i], why, p.Events))
			continue
		}
		s.Running++
		d := p.Running.Sub(p.Acked)
		if d < 0 {
			s.Early++
			d = 0
		}
		s.Latency = append(s.Latency, d)
		s.FromSent = append(s.FromSent, p.Running.Sub(p.Sent))
		s.CreateCall = append(s.CreateCall, p.Acked.Sub(p.Sent))
		if s.FirstRunning == 0 || p.Running.Sub(begin) < s.FirstRunning {
			s.FirstRunning = p.Running.Sub(begin)
		}
		s.Span = max(s.Span, p.Running.Sub(begin))
	}
	s.CreateSpan = lastAck.Sub(begin)

	if m, err := c.scrapeKubelet(ctx); err != nil {
		s.MetricsError = err.Error()
	} else {
		s.SLI = m.histogram("kubelet_pod_start_sli_duration_seconds")
		s.RuntimeOps = m.means("kubelet_runtime_operations_duration_seconds", "operation_type")
		s.RunningPods, _ = m.value("kubelet_running_pods")
	}
	return nil
}

func isStall(err error) bool { return errors.Is(err, errStalled) }

// createPods creates the named pods from the configured creators, paced
// to qps in all (0: unpaced), recording each create's times in t.
func (c *cluster) createPods(ctx context.Context, t *tracker, names []string, qps float64) error {
	pods := c.client.CoreV1().Pods(namespace)
	var interval time.Duration
	if qps > 0 {
		interval = time.Duration(float64(time.Second) / qps)
	}
	begin := time.Now()
	return forEach(ctx, len(names), c.cfg.Creators, func(ctx context.Context, i int) error {
		if interval > 0 {
			if err := sleepCtx(ctx, time.Until(begin.Add(time.Duration(i)*interval))); err != nil {
				return err
			}
		}
		sent := time.Now()
		if _, err := pods.Create(ctx, newPod(names[i]), metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create pod %s: %w", names[i], err)
		}
		t.created(names[i], sent, time.Now())
		return nil
	})
}

// deletePods deletes the named pods with the benchmark's grace period
// (grace, when not nil), from the configured creators, unpaced. Pods
// already gone are no error.
func (c *cluster) deletePods(ctx context.Context, names []string, grace int64) error {
	pods := c.client.CoreV1().Pods(namespace)
	return forEach(ctx, len(names), c.cfg.Creators, func(ctx context.Context, i int) error {
		err := pods.Delete(ctx, names[i], metav1.DeleteOptions{GracePeriodSeconds: &grace})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete pod %s: %w", names[i], err)
		}
		return nil
	})
}

// forEach calls fn for 0..n-1 from workers goroutines, in order of i as
// far as the workers go; the first error stops the rest and is returned.
func forEach(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, i); err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr == nil {
		return ctx.Err()
	}
	return firstErr
}

// scaling is how the node went from the startup's pods to the memory
// step's.
type scaling struct {
	From, To int
	// Took is from the first delete (or create) sent to the last pod seen
	// gone (or Running).
	Took time.Duration
}

// scaleTo deletes pods, or creates more, until MemoryPods run, and waits
// until the watch has seen the deleted ones gone or the new ones Running.
func (c *cluster) scaleTo(ctx context.Context, t *tracker, res *results) error {
	from, to := c.cfg.Pods, c.cfg.MemoryPods
	res.Scale = scaling{From: from, To: to}
	begin := time.Now()
	switch {
	case to < from:
		names := podNames(to, from)
		if err := c.deletePods(ctx, names, deleteGrace); err != nil {
			return err
		}
		if err := t.waitFor(ctx, names, c.cfg.StallTimeout, func(p *podTrack) bool { return p.Deleted.IsZero() }); err != nil {
			return fmt.Errorf("deleting pods down to %d: %w", to, err)
		}
	case to > from:
		names := podNames(from, to)
		if err := c.createPods(ctx, t, names, c.cfg.QPS); err != nil {
			return err
		}
		if err := t.waitFor(ctx, names, c.cfg.StallTimeout, func(p *podTrack) bool { return p.Running.IsZero() }); err != nil {
			return fmt.Errorf("creating pods up to %d: %w", to, err)
		}
	}
	res.Scale.Took = time.Since(begin)
	return nil
}
