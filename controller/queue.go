package controller

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shepherd-lab/shepherd/storage"
)

// Queue is a work queue of keys ("namespace/name") as Kubernetes'
// controllers use: a key added several times before a worker takes it is
// processed once; a key being processed is not handed to a second worker
// (added meanwhile, it comes back once the first is Done); failed keys
// come back after a per-key exponential back-off (AddRateLimited) until
// Forget.
type Queue struct {
	name    string
	metrics *QueueMetrics

	mu         sync.Mutex
	cond       *sync.Cond
	queue      []string
	dirty      map[string]bool
	processing map[string]bool
	added      map[string]time.Time // when a key entered the queue
	started    map[string]time.Time // when a worker took it
	failures   map[string]int
	timers     map[string]*time.Timer
	shutdown   bool

	// BaseDelay and MaxDelay bound the per-key back-off (Kubernetes: 5 ms
	// doubling to 1000 s).
	BaseDelay, MaxDelay time.Duration
}

// NewQueue returns a queue whose metrics carry name (nil metrics: none).
func NewQueue(name string, m *QueueMetrics) *Queue {
	q := &Queue{
		name: name, metrics: m,
		dirty: map[string]bool{}, processing: map[string]bool{}, added: map[string]time.Time{},
		started: map[string]time.Time{}, failures: map[string]int{}, timers: map[string]*time.Timer{},
		BaseDelay: 5 * time.Millisecond, MaxDelay: 1000 * time.Second,
	}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// Add queues key unless it is queued already.
func (q *Queue) Add(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.addLocked(key)
}

func (q *Queue) addLocked(key string) {
	if q.shutdown || q.dirty[key] {
		return
	}
	q.dirty[key] = true
	if q.metrics != nil {
		q.metrics.adds.WithLabelValues(q.name).Inc()
	}
	if q.processing[key] {
		return // re-queued by Done
	}
	q.push(key)
}

func (q *Queue) push(key string) {
	q.queue = append(q.queue, key)
	q.added[key] = time.Now()
	if q.metrics != nil {
		q.metrics.depth.WithLabelValues(q.name).Set(float64(len(q.queue)))
	}
	q.cond.Signal()
}

// AddAfter queues key after d (at once if d <= 0). A later call for the
// same key replaces an earlier pending one only when it is sooner.
func (q *Queue) AddAfter(key string, d time.Duration) {
	if d <= 0 {
		q.Add(key)
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.shutdown {
		return
	}
	if t := q.timers[key]; t != nil {
		t.Stop()
	}
	q.timers[key] = time.AfterFunc(d, func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		delete(q.timers, key)
		q.addLocked(key)
	})
}

// AddRateLimited queues key after its back-off, which doubles with each
// call until Forget.
func (q *Queue) AddRateLimited(key string) {
	q.mu.Lock()
	n := q.failures[key]
	q.failures[key] = n + 1
	q.mu.Unlock()
	if q.metrics != nil {
		q.metrics.retries.WithLabelValues(q.name).Inc()
	}
	d := q.BaseDelay << min(n, 40)
	if d > q.MaxDelay || d <= 0 {
		d = q.MaxDelay
	}
	q.AddAfter(key, d)
}

// Forget ends key's back-off (it was processed successfully).
func (q *Queue) Forget(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.failures, key)
}

// Get waits for a key; ok is false once the queue is shut down or ctx
// ends. Every key got must be given back with Done.
func (q *Queue) Get(ctx context.Context) (key string, ok bool) {
	stop := context.AfterFunc(ctx, func() {
		q.mu.Lock()
		q.cond.Broadcast()
		q.mu.Unlock()
	})
	defer stop()
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.queue) == 0 && !q.shutdown && ctx.Err() == nil {
		q.cond.Wait()
	}
	if len(q.queue) == 0 {
		return "", false
	}
	key = q.queue[0]
	q.queue = q.queue[1:]
	q.processing[key] = true
	delete(q.dirty, key)
	now := time.Now()
	if q.metrics != nil {
		q.metrics.depth.WithLabelValues(q.name).Set(float64(len(q.queue)))
		q.metrics.queueDuration.WithLabelValues(q.name).Observe(now.Sub(q.added[key]).Seconds())
	}
	delete(q.added, key)
	q.started[key] = now
	return key, true
}

// Done marks key processed; if it was added meanwhile it is queued again.
func (q *Queue) Done(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.processing, key)
	if q.metrics != nil {
		q.metrics.workDuration.WithLabelValues(q.name).Observe(time.Since(q.started[key]).Seconds())
	}
	delete(q.started, key)
	if q.dirty[key] && !q.shutdown {
		q.push(key)
	}
}

// Len is the number of keys waiting.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.queue)
}

// ShutDown stops the queue: Get returns false once it is empty, pending
// AddAfter timers are dropped.
func (q *Queue) ShutDown() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.shutdown = true
	for k, t := range q.timers {
		t.Stop()
		delete(q.timers, k)
	}
	q.cond.Broadcast()
}

// Work runs workers goroutines taking keys from q and calling process until
// ctx ends; it returns when they have all stopped. An error from process re-queues
// the key with back-off and is logged (a conflict, a write that raced
// another, at debug level: the retry reads a fresher view); success
// forgets its back-off.
func Work(ctx context.Context, q *Queue, workers int, process func(ctx context.Context, key string) error, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				key, ok := q.Get(ctx)
				if !ok {
					return
				}
				err := process(ctx, key)
				if err != nil && ctx.Err() == nil {
					if errors.Is(err, storage.ErrConflict) {
						log.Debug("sync conflicted; retrying", "queue", q.name, "key", key, "err", err)
					} else {
						log.Warn("sync failed; retrying", "queue", q.name, "key", key, "err", err)
					}
					q.AddRateLimited(key)
				} else if err == nil {
					q.Forget(key)
				}
				q.Done(key)
			}
		}()
	}
	<-ctx.Done()
	q.ShutDown()
	wg.Wait()
}

// QueueMetrics are Kubernetes' workqueue_* series, labelled by queue name.
type QueueMetrics struct {
	depth         *prometheus.GaugeVec
	adds          *prometheus.CounterVec
	retries       *prometheus.CounterVec
	queueDuration *prometheus.HistogramVec
	workDuration  *prometheus.HistogramVec
}

// NewQueueMetrics registers the workqueue series with reg.
func NewQueueMetrics(reg prometheus.Registerer) *QueueMetrics {
	buckets := prometheus.ExponentialBuckets(1e-8, 10, 11)
	m := &QueueMetrics{
		depth:   prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "workqueue_depth", Help: "Current depth of workqueue"}, []string{"name"}),
		adds:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "workqueue_adds_total", Help: "Total number of adds handled by workqueue"}, []string{"name"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "workqueue_retries_total", Help: "Total number of retries handled by workqueue"}, []string{"name"}),
		queueDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "workqueue_queue_duration_seconds",
			Help: "How long in seconds an item stays in workqueue before being requested.", Buckets: buckets}, []string{"name"}),
		workDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "workqueue_work_duration_seconds",
			Help: "How long in seconds processing an item from workqueue takes.", Buckets: buckets}, []string{"name"}),
	}
	reg.MustRegister(m.depth, m.adds, m.retries, m.queueDuration, m.workDuration)
	return m
}
