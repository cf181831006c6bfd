package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/storage"
	"github.com/shepherd-lab/shepherd/storage/embedded"
)

// The cluster, as scheduler_perf's node-default.yaml and pod-default.yaml
// describe it.
const (
	nodeCPU       = "4"
	nodeMemory    = "32Gi"
	nodePods      = 110
	nodeEphemeral = "100Gi"
	podCPU        = "100m"
	podMemory     = "500Mi"
	podImage      = "registry.k8s.io/pause:3.10"

	podNamespace  = "default"
	placedPrefix  = "placed-" // the pods bound before the scheduler starts
	pendingPrefix = "pod-"    // the measured ones

	// maxBatch bounds a CreateMany of unbound pods (one etcd operation
	// each); bound pods also write their pods-by-node index entry, two
	// operations each. etcd allows 128 per transaction.
	maxBatch      = 100
	maxBoundBatch = 60
	// setupWorkers write the nodes, leases and placed pods.
	setupWorkers = 4
)

// bench is one run's shared state.
type bench struct {
	cfg     config
	dir     string // the run's temporary directory
	etcdDir string
	etcd    *embedded.Server
	store   *storage.Store

	sched *schedProc // nil until started

	cleanups []func()
}

// start runs an embedded etcd (fsync on) in a new temporary directory and
// connects a store to it.
func start(ctx context.Context, cfg config) (b *bench, err error) {
	b = &bench{cfg: cfg}
	defer func() {
		if err != nil {
			b.stop()
		}
	}()
	if b.dir, err = os.MkdirTemp(cfg.TempDir, "shepherd-sched-bench-"); err != nil {
		return nil, err
	}
	dir := b.dir
	b.cleanups = append(b.cleanups, func() { os.RemoveAll(dir) })
	b.etcdDir = filepath.Join(b.dir, "etcd")
	b.etcd, err = embedded.Start(embedded.Config{
		DataDir:   b.etcdDir,
		ClientURL: "http://127.0.0.1:0",
		PeerURL:   "http://127.0.0.1:0",
		Logger:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return nil, err
	}
	b.cleanups = append(b.cleanups, b.etcd.Close)
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if b.store, err = storage.Connect(dctx, b.etcd.Endpoints(), api.Scheme); err != nil {
		return nil, err
	}
	b.cleanups = append(b.cleanups, func() { b.store.Close() })
	return b, nil
}

// stop kills the scheduler if it still runs, then stops etcd and removes
// the run's directory.
func (b *bench) stop() {
	if b.sched != nil {
		b.sched.kill()
	}
	for i := len(b.cleanups) - 1; i >= 0; i-- {
		b.cleanups[i]()
	}
	b.cleanups = nil
}

// populate writes the namespaces the apiserver would have made, the
// nodes, their leases and the placed pods straight to etcd, as the
// apiserver would store them. (The scheduler's admission refuses to bind
// a pod whose namespace does not exist, as Kubernetes' does.)
func (b *bench) populate(ctx context.Context, res *results) error {
	namespaces := []string{podNamespace, corev1.NamespaceNodeLease}
	if err := createAll(ctx, b.store, api.Namespaces, len(namespaces), maxBatch, 1, func(i int) runtime.Object {
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespaces[i]}}
	}, nil); err != nil {
		return err
	}
	now := metav1.NewMicroTime(time.Now())
	steps := []struct {
		took    *time.Duration
		r       *api.Resource
		n, size int
		obj     func(i int) runtime.Object
	}{
		{&res.Setup.Nodes, api.Nodes, b.cfg.Nodes, maxBatch, func(i int) runtime.Object { return newNode(nodeName(i)) }},
		{&res.Setup.Leases, api.Leases, b.cfg.Nodes, maxBatch, func(i int) runtime.Object { return newLease(nodeName(i), now) }},
		{&res.Setup.Placed, api.Pods, b.cfg.Placed, maxBoundBatch, func(i int) runtime.Object {
			return newPod(fmt.Sprintf("%s%06d", placedPrefix, i), nodeName(i%b.cfg.Nodes))
		}},
	}
	for _, s := range steps {
		begin := time.Now()
		if err := createAll(ctx, b.store, s.r, s.n, s.size, setupWorkers, s.obj, nil); err != nil {
			return err
		}
		*s.took = time.Since(begin)
	}
	return nil
}

// createAll creates n objects of r, made by obj(0..n-1), in transactions of
// size objects from workers goroutines. Each object passes api's
// BeforeCreate first (server metadata, defaults, validation), as it would
// in the apiserver. acked, when not nil, is told of each transaction that
// returned: the first index it held, how many, and when.
func createAll(ctx context.Context, store *storage.Store, r *api.Resource, n, size, workers int,
	obj func(i int) runtime.Object, acked func(first, count int, at time.Time)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	batches := (n + size - 1) / size
	for range min(workers, batches) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			objs := make([]runtime.Object, 0, size)
			for {
				bi := int(next.Add(1) - 1)
				if bi >= batches || ctx.Err() != nil {
					return
				}
				first, last := bi*size, min((bi+1)*size, n)
				objs = objs[:0]
				var err error
				for i := first; i < last && err == nil; i++ {
					o := obj(i)
					if err = r.BeforeCreate(o); err == nil {
						objs = append(objs, o)
					}
				}
				if err == nil {
					err = store.CreateMany(ctx, r.Storage, objs)
				}
				if err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("create %s %d..%d: %w", r.Plural, first, last-1, err); cancel() })
					return
				}
				if acked != nil {
					acked(first, last-first, time.Now())
				}
			}
		}()
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return firstErr
}

func nodeName(i int) string { return fmt.Sprintf("node-%05d", i) }

// newNode is a Ready node as scheduler_perf's node-default.yaml has it: 4
// CPUs, 32Gi of memory, 110 pods.
func newNode(name string) *corev1.Node {
	alloc := func() corev1.ResourceList {
		return corev1.ResourceList{
			corev1.ResourceCPU:              resource.MustParse(nodeCPU),
			corev1.ResourceMemory:           resource.MustParse(nodeMemory),
			corev1.ResourcePods:             *resource.NewQuantity(nodePods, resource.DecimalSI),
			corev1.ResourceEphemeralStorage: resource.MustParse(nodeEphemeral),
		}
	}
	now := metav1.Now()
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
		}},
		Status: corev1.NodeStatus{
			Capacity:    alloc(),
			Allocatable: alloc(),
			Phase:       corev1.NodeRunning,
			Conditions: []corev1.NodeCondition{{
				Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
				Message: "kubelet is posting ready status", LastHeartbeatTime: now, LastTransitionTime: now,
			}},
		},
	}
}

// newLease is a node's heartbeat lease, renewed now and good for an hour:
// longer than any run.
func newLease(node string, renewed metav1.MicroTime) *coordinationv1.Lease {
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: corev1.NamespaceNodeLease, Name: node},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       ptr.To(node),
			LeaseDurationSeconds: ptr.To(int32(3600)),
			RenewTime:            &renewed,
		},
	}
}

// newPod is scheduler_perf's pod-default.yaml: one pause container
// requesting (and limited to) 100m CPU and 500Mi of memory. A node name
// makes it a pod already bound there.
func newPod(name, node string) *corev1.Pod {
	res := func() corev1.ResourceList {
		return corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse(podCPU),
			corev1.ResourceMemory: resource.MustParse(podMemory),
		}
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: podNamespace, Name: name},
		Spec: corev1.PodSpec{
			NodeName: node,
			Containers: []corev1.Container{{
				Name:      "pause",
				Image:     podImage,
				Ports:     []corev1.ContainerPort{{ContainerPort: 80}},
				Resources: corev1.ResourceRequirements{Requests: res(), Limits: res()},
			}},
		},
	}
	return pod
}
