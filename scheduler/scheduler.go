package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/shepherd-lab/shepherd/admission"
	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/events"
	"github.com/shepherd-lab/shepherd/storage"
	"github.com/shepherd-lab/shepherd/storage/informer"
)

// DefaultSchedulerName is the schedulerName pods get by default.
const DefaultSchedulerName = corev1.DefaultSchedulerName

// NodeLeaseNamespace holds the kubelets' heartbeat leases.
const NodeLeaseNamespace = corev1.NamespaceNodeLease

// Options configure a scheduler.
type Options struct {
	Store *storage.Store
	// SchedulerName: the scheduler binds pods whose spec.schedulerName is
	// this (default-scheduler).
	SchedulerName string
	// LeaderElect makes the scheduler bind only while it holds the lease
	// kube-system/kube-scheduler; LeaseDuration is its etcd lease's TTL.
	LeaderElect   bool
	LeaseDuration time.Duration
	// Identity names this copy in the leader lease (hostname_random).
	Identity string
	// BindConcurrency bounds the bindings in flight at once.
	BindConcurrency int
	Registry        prometheus.Registerer
	Log             *slog.Logger
	// Seed seeds tie-breaking between equal nodes; 0 picks one at random.
	Seed uint64
}

// DefaultOptions are kube-scheduler's defaults.
func DefaultOptions() Options {
	host, _ := os.Hostname()
	return Options{
		SchedulerName:   DefaultSchedulerName,
		LeaderElect:     true,
		LeaseDuration:   15 * time.Second,
		Identity:        host + "_" + strconv.FormatUint(rand.Uint64()&0xffffffff, 16),
		BindConcurrency: 64,
	}
}

// Scheduler watches pending pods and binds them.
type Scheduler struct {
	opts    Options
	log     *slog.Logger
	store   *storage.Store
	cache   *cache
	queue   *Queue
	algo    *Algorithm
	metrics *metrics
	events  *events.Recorder
	// cluster feeds admission, which every binding and status write passes.
	cluster   *admission.Informers
	admission *admission.Admission

	pods, nodes, leases *informer.Informer

	fence  []storage.WriteOption // the leadership fence on every write
	leader atomic.Bool
	binds  chan struct{} // a slot per binding in flight
	wg     sync.WaitGroup

	failMu   sync.Mutex
	failures map[types.UID]reported // last failure reported per pod
}

type reported struct {
	message string
	at      time.Time
}

// failureReportInterval spaces repeated FailedScheduling events of the same
// message for one pod.
const failureReportInterval = time.Minute

// New returns a scheduler; Run starts it.
func New(opts Options) *Scheduler {
	def := DefaultOptions()
	if opts.SchedulerName == "" {
		opts.SchedulerName = def.SchedulerName
	}
	if opts.LeaseDuration == 0 {
		opts.LeaseDuration = def.LeaseDuration
	}
	if opts.Identity == "" {
		opts.Identity = def.Identity
	}
	if opts.BindConcurrency <= 0 {
		opts.BindConcurrency = def.BindConcurrency
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Seed == 0 {
		opts.Seed = rand.Uint64()
	}
	cluster := admission.Follow(opts.Store, opts.Log)
	adm := admission.New(cluster)
	s := &Scheduler{
		opts:      opts,
		log:       opts.Log,
		store:     opts.Store,
		cache:     newCache(),
		queue:     NewQueue(),
		algo:      NewAlgorithm(opts.Seed),
		events:    events.NewRecorder(opts.Store, adm, opts.SchedulerName, 0, opts.Log),
		cluster:   cluster,
		admission: adm,
		binds:     make(chan struct{}, opts.BindConcurrency),
		failures:  map[types.UID]reported{},
	}
	s.metrics = newMetrics(opts.Registry, opts.SchedulerName, s.queue)
	s.pods = informer.New(informer.Config{Store: s.store, Resource: api.Pods.Storage, Handler: s.podHandler(), Log: s.log})
	s.nodes = informer.New(informer.Config{Store: s.store, Resource: api.Nodes.Storage, Handler: s.nodeHandler(), Log: s.log})
	s.leases = informer.New(informer.Config{Store: s.store, Resource: api.Leases.Storage, Namespace: NodeLeaseNamespace, Handler: s.leaseHandler(), Log: s.log})
	return s
}

// ErrLeadershipLost ends Run when another copy took over.
var ErrLeadershipLost = errors.New("leader election lost")

// Run follows the cluster, waits to lead (with LeaderElect), and schedules
// until ctx is done (then it resigns, so a standby takes over at once) or
// leadership is lost (ErrLeadershipLost: the process should exit, as
// kube-scheduler does, and be restarted as a standby).
func (s *Scheduler) Run(ctx context.Context) error {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var bg sync.WaitGroup
	defer bg.Wait()
	defer cancel()
	for _, inf := range []*informer.Informer{s.nodes, s.leases, s.pods} {
		bg.Add(1)
		go func() { defer bg.Done(); inf.Run(runCtx) }()
	}
	bg.Add(2)
	go func() { defer bg.Done(); s.events.Run(runCtx) }()
	go func() { defer bg.Done(); s.cluster.Run(runCtx) }()
	for _, inf := range []*informer.Informer{s.nodes, s.leases, s.pods} {
		if err := inf.WaitSynced(ctx); err != nil {
			return nil
		}
	}
	if err := s.cluster.WaitSynced(ctx); err != nil {
		return nil
	}
	nodes, pods, _ := s.cache.counts()
	s.log.Info("caches synced", "nodes", nodes, "boundPods", pods)

	loopCtx := runCtx
	var lost <-chan struct{}
	if s.opts.LeaderElect {
		l, err := s.store.Campaign(ctx, storage.ElectionConfig{
			Leases: api.Leases.Storage, Namespace: metav1.NamespaceSystem, Name: "kube-scheduler",
			Identity: s.opts.Identity, LeaseDuration: s.opts.LeaseDuration, Log: s.log,
		})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("leader election: %w", err)
		}
		defer func() {
			rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer rcancel()
			if err := l.Resign(rctx); err != nil {
				s.log.Warn("resigning leadership failed", "err", err)
			}
		}()
		s.fence = []storage.WriteOption{storage.WithFence(l.Fence())}
		lost = l.Lost()
		var stop context.CancelFunc
		loopCtx, stop = context.WithCancel(runCtx)
		defer stop()
		go func() {
			select {
			case <-lost:
				stop()
			case <-loopCtx.Done():
			}
		}()
	}
	s.leader.Store(true)
	s.metrics.leader.Set(1)
	defer func() { s.leader.Store(false); s.metrics.leader.Set(0) }()
	s.log.Info("scheduling", "schedulerName", s.opts.SchedulerName, "identity", s.opts.Identity)
	s.loop(loopCtx)
	s.wg.Wait() // bindings in flight
	select {
	case <-lost:
		if ctx.Err() == nil {
			return ErrLeadershipLost
		}
	default:
	}
	return nil
}

// Leading reports whether this copy is scheduling.
func (s *Scheduler) Leading() bool { return s.leader.Load() }

// loop decides on one pod at a time and hands each decision to a binder.
func (s *Scheduler) loop(ctx context.Context) {
	for {
		qp, err := s.queue.Pop(ctx)
		if err != nil {
			return
		}
		s.scheduleOne(ctx, qp)
	}
}

func (s *Scheduler) scheduleOne(ctx context.Context, qp *queuedPod) {
	start := time.Now()
	s.cache.mu.Lock()
	node, err := s.algo.Schedule(qp.pi, s.cache.list, start)
	var nodeName string
	if err == nil {
		nodeName = node.Node.Name
		s.cache.assumeLocked(qp.pi, node)
	}
	s.cache.mu.Unlock()
	if err != nil {
		s.observeAttempt("unschedulable", start)
		s.queue.Unschedulable(qp)
		s.reportFailure(ctx, qp.pi.Pod, err)
		return
	}
	select {
	case s.binds <- struct{}{}:
	case <-ctx.Done():
		s.cache.forget(qp.pi.Key)
		s.queue.Backoff(qp)
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() { <-s.binds }()
		s.bind(ctx, qp, nodeName, start)
	}()
}

// bind writes the binding: one transaction that succeeds only if the pod
// is unchanged since the version the decision was made on (and this copy
// still leads). It sets spec.nodeName, the PodScheduled condition and the
// node's pod index entry (storage keeps the index in the same transaction).
func (s *Scheduler) bind(ctx context.Context, qp *queuedPod, node string, start time.Time) {
	pod := qp.pi.Pod
	bound := pod.DeepCopy()
	api.BindPod(bound, node, metav1.Now())
	binding := &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: node},
	}
	err := s.admission.Admit(ctx, admission.Binding(binding, pod.Namespace))
	if err == nil {
		err = s.store.Update(ctx, api.Pods.Storage, pod, bound, s.fence...)
	}
	switch {
	case err == nil:
		s.observeAttempt("scheduled", start)
		s.metrics.sli.WithLabelValues(attemptsLabel(qp.attempts)).Observe(time.Since(qp.firstQueued).Seconds())
		s.queue.Done(qp.pi.Key)
		s.forgetFailure(pod.UID)
		s.events.Record(api.Pods, bound, corev1.EventTypeNormal, "Scheduled",
			fmt.Sprintf("Successfully assigned %s/%s to %s", pod.Namespace, pod.Name, node))
	case errors.Is(err, storage.ErrConflict), errors.Is(err, storage.ErrNotFound):
		// The pod changed (or went) since the decision: the informer brings
		// its new version, which is decided on afresh if still pending.
		s.cache.forget(qp.pi.Key)
		s.queue.Done(qp.pi.Key)
		s.log.Debug("binding lost a race", "pod", qp.pi.Key, "node", node, "err", err)
	case apierrors.IsForbidden(err), apierrors.IsNotFound(err):
		// Admission refused: its namespace is being deleted (or gone), and
		// the namespace controller deletes the pod. Not retried.
		s.cache.forget(qp.pi.Key)
		s.observeAttempt("error", start)
		s.queue.Done(qp.pi.Key)
		s.log.Info("binding refused", "pod", qp.pi.Key, "node", node, "err", err)
	default:
		s.cache.forget(qp.pi.Key)
		s.observeAttempt("error", start)
		s.queue.Backoff(qp)
		if ctx.Err() == nil && !errors.Is(err, storage.ErrFenced) {
			s.log.Warn("binding failed", "pod", qp.pi.Key, "node", node, "err", err)
		}
	}
}

func attemptsLabel(n int) string {
	if n >= 15 {
		return "15+"
	}
	return strconv.Itoa(n)
}

func (s *Scheduler) observeAttempt(result string, start time.Time) {
	s.metrics.attempts.WithLabelValues(result, s.opts.SchedulerName).Inc()
	s.metrics.attemptDuration.WithLabelValues(result, s.opts.SchedulerName).Observe(time.Since(start).Seconds())
}

// reportFailure records why a pod did not fit: the PodScheduled=False
// condition (written only when its message changes) and a FailedScheduling
// event (when the message changes, or a minute after the last).
func (s *Scheduler) reportFailure(ctx context.Context, pod *corev1.Pod, cause error) {
	msg := cause.Error()
	s.failMu.Lock()
	last, seen := s.failures[pod.UID]
	repeat := seen && last.message == msg && time.Since(last.at) < failureReportInterval
	if !repeat {
		s.failures[pod.UID] = reported{message: msg, at: time.Now()}
	}
	s.failMu.Unlock()
	if repeat {
		return
	}
	s.events.Record(api.Pods, pod, corev1.EventTypeWarning, "FailedScheduling", msg)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.setUnschedulable(ctx, pod, msg); err != nil && ctx.Err() == nil {
			s.log.Warn("recording unschedulable pod failed", "pod", pod.Namespace+"/"+pod.Name, "err", err)
		}
	}()
}

func (s *Scheduler) forgetFailure(uid types.UID) {
	s.failMu.Lock()
	delete(s.failures, uid)
	s.failMu.Unlock()
}

var errNotPending = errors.New("pod is no longer pending")

func (s *Scheduler) setUnschedulable(ctx context.Context, pod *corev1.Pod, msg string) error {
	_, err := s.store.GuaranteedUpdate(ctx, api.Pods.Storage, pod.Namespace, pod.Name, func(cur runtime.Object) (runtime.Object, error) {
		p := cur.(*corev1.Pod)
		if p.UID != pod.UID || p.Spec.NodeName != "" || p.DeletionTimestamp != nil {
			return nil, errNotPending
		}
		next := p.DeepCopy()
		api.SetPodCondition(&next.Status, corev1.PodCondition{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
			Reason: corev1.PodReasonUnschedulable, Message: msg, LastTransitionTime: metav1.Now(),
		})
		return next, s.admission.UpdateStatus(ctx, api.Pods, next, p)
	}, pod, s.fence...)
	if errors.Is(err, errNotPending) || errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	return err
}

// responsible reports whether the pod is this scheduler's to place.
func (s *Scheduler) responsible(pod *corev1.Pod) bool {
	return pod.Spec.NodeName == "" && pod.Spec.SchedulerName == s.opts.SchedulerName && pod.DeletionTimestamp == nil
}

// terminal pods no longer use their node's resources.
func terminal(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

func (s *Scheduler) podHandler() informer.Handler {
	return informer.Funcs{
		Add: func(obj runtime.Object) {
			pod := obj.(*corev1.Pod)
			switch {
			case pod.Spec.NodeName != "":
				if !terminal(pod) {
					s.cache.podBound(NewPodInfo(pod))
				}
			case s.responsible(pod):
				s.queue.Add(pod)
			}
		},
		Update: func(oldObj, obj runtime.Object) {
			old, pod := oldObj.(*corev1.Pod), obj.(*corev1.Pod)
			switch {
			case pod.Spec.NodeName != "":
				if old.Spec.NodeName == "" {
					s.queue.Delete(pod.Namespace, pod.Name)
					s.forgetFailure(pod.UID)
				}
				if terminal(pod) {
					if !terminal(old) {
						s.cache.podGone(pod.Namespace + "/" + pod.Name)
						s.queue.MoveAll()
					}
					return
				}
				if old.Spec.NodeName == "" || old.ResourceVersion != pod.ResourceVersion && !apiequality.Semantic.DeepEqual(old.Spec, pod.Spec) {
					s.cache.podBound(NewPodInfo(pod))
				}
			case s.responsible(pod):
				if !apiequality.Semantic.DeepEqual(old.Spec, pod.Spec) || !apiequality.Semantic.DeepEqual(old.Labels, pod.Labels) {
					s.queue.Add(pod)
				} else {
					s.queue.Refresh(pod)
				}
			default:
				s.queue.Delete(pod.Namespace, pod.Name)
			}
		},
		Delete: func(obj runtime.Object) {
			pod := obj.(*corev1.Pod)
			s.queue.Delete(pod.Namespace, pod.Name)
			s.forgetFailure(pod.UID)
			if pod.Spec.NodeName != "" {
				s.cache.podGone(pod.Namespace + "/" + pod.Name)
				s.queue.MoveAll()
			}
		},
	}
}

func (s *Scheduler) nodeHandler() informer.Handler {
	return informer.Funcs{
		Add: func(obj runtime.Object) {
			s.cache.setNode(obj.(*corev1.Node))
			s.queue.MoveAll()
		},
		Update: func(oldObj, obj runtime.Object) {
			old, node := oldObj.(*corev1.Node), obj.(*corev1.Node)
			s.cache.setNode(node)
			if nodeSchedulingChanged(old, node) {
				s.queue.MoveAll()
			}
		},
		Delete: func(obj runtime.Object) { s.cache.deleteNode(obj.(*corev1.Node).Name) },
	}
}

// nodeSchedulingChanged reports a node change that may let more pods fit.
func nodeSchedulingChanged(old, node *corev1.Node) bool {
	return !apiequality.Semantic.DeepEqual(old.Status.Allocatable, node.Status.Allocatable) ||
		!apiequality.Semantic.DeepEqual(old.Labels, node.Labels) ||
		!apiequality.Semantic.DeepEqual(old.Spec.Taints, node.Spec.Taints) ||
		old.Spec.Unschedulable != node.Spec.Unschedulable ||
		readyStatus(old) != readyStatus(node)
}

func (s *Scheduler) leaseHandler() informer.Handler {
	return informer.Funcs{
		Add: func(obj runtime.Object) {
			l := obj.(*coordinationv1.Lease)
			s.cache.setLease(l.Name, l)
			s.queue.MoveAll()
		},
		Update: func(_, obj runtime.Object) {
			l := obj.(*coordinationv1.Lease)
			s.cache.setLease(l.Name, l)
		},
		Delete: func(obj runtime.Object) { s.cache.setLease(obj.(*coordinationv1.Lease).Name, nil) },
	}
}
