package kubelet

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/shepherd-lab/shepherd/admission"
	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/storage"
	"github.com/shepherd-lab/shepherd/storage/informer"
)

// HollowPods runs a hollow node's pods: no containers, every pod bound to
// the node is reported Running at once, with every container running and
// ready, and a pod being deleted is removed from etcd at once (its
// "containers" exit immediately). It is for scale tests that simulate
// many nodes in one process, as Kubernetes' kubemark does.
type HollowPods struct {
	Store     *storage.Store
	Admission *admission.Admission
	Node      string
	HostIP    string
	Log       *slog.Logger

	mu      sync.Mutex
	pending map[[2]string]bool // namespace, name queued for a sync
	kick    chan struct{}
	inf     *informer.Informer
}

// Run follows the pods bound to the node (through the per-node index, not
// a watch over every pod) until ctx ends.
func (h *HollowPods) Run(ctx context.Context) {
	if h.Log == nil {
		h.Log = slog.New(slog.DiscardHandler)
	}
	h.pending = map[[2]string]bool{}
	h.kick = make(chan struct{}, 1)
	enqueue := func(obj runtime.Object) {
		p := obj.(*corev1.Pod)
		h.mu.Lock()
		h.pending[[2]string{p.Namespace, p.Name}] = true
		h.mu.Unlock()
		select {
		case h.kick <- struct{}{}:
		default:
		}
	}
	h.inf = informer.New(informer.Config{
		Store: h.Store, Resource: api.Pods.Storage, Index: api.NodeIndex, IndexValue: h.Node,
		Handler: informer.Funcs{Add: enqueue, Update: func(_, obj runtime.Object) { enqueue(obj) }},
		Log:     h.Log,
	})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); h.inf.Run(ctx) }()
	defer wg.Wait()
	// Pods whose sync failed (a conflict, say) are tried again after
	// retryDelay, by this loop: no goroutine outlives Run.
	const retryDelay = time.Second
	failed := map[[2]string]bool{}
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.kick:
		case <-retry:
			retry = nil
		}
		h.mu.Lock()
		keys := h.pending
		h.pending = map[[2]string]bool{}
		h.mu.Unlock()
		if retry == nil {
			for key := range failed {
				keys[key] = true
			}
			failed = map[[2]string]bool{}
		}
		for key := range keys {
			obj := h.inf.Get(key[0], key[1])
			if obj == nil {
				continue
			}
			if err := h.sync(ctx, obj.(*corev1.Pod)); err != nil && ctx.Err() == nil {
				h.Log.Warn("sync hollow pod", "pod", key[0]+"/"+key[1], "err", err)
				failed[key] = true
			}
		}
		if len(failed) > 0 && retry == nil {
			retry = time.After(retryDelay)
		}
	}
}

func (h *HollowPods) sync(ctx context.Context, pod *corev1.Pod) error {
	pods := storage.NewTyped[*corev1.Pod](h.Store, api.Pods.Storage)
	if pod.DeletionTimestamp != nil {
		return removePod(ctx, h.Store, h.Admission, pod)
	}
	if pod.Status.Phase == corev1.PodRunning {
		return nil
	}
	_, err := pods.GuaranteedUpdate(ctx, pod.Namespace, pod.Name, func(cur *corev1.Pod) (*corev1.Pod, error) {
		if cur.UID != pod.UID || cur.Spec.NodeName != h.Node {
			return nil, fmt.Errorf("pod %s/%s: replaced or moved", pod.Namespace, pod.Name)
		}
		next := cur.DeepCopy()
		runningStatus(next, h.HostIP, metav1.Now())
		return next, h.Admission.UpdateStatus(ctx, api.Pods, next, cur)
	})
	return err
}

// runningStatus is the status of a pod whose containers all started now.
func runningStatus(pod *corev1.Pod, hostIP string, now metav1.Time) {
	st := &pod.Status
	st.Phase = corev1.PodRunning
	st.HostIP = hostIP
	if hostIP != "" {
		st.HostIPs = []corev1.HostIP{{IP: hostIP}}
	}
	st.PodIP = placeholderIP(pod)
	st.PodIPs = []corev1.PodIP{{IP: st.PodIP}}
	if st.StartTime == nil {
		st.StartTime = &now
	}
	for _, t := range []corev1.PodConditionType{corev1.PodInitialized, corev1.PodReadyToStartContainers, corev1.ContainersReady, corev1.PodReady} {
		api.SetPodCondition(st, corev1.PodCondition{Type: t, Status: corev1.ConditionTrue, LastTransitionTime: now})
	}
	st.ContainerStatuses = nil
	for _, c := range pod.Spec.Containers {
		st.ContainerStatuses = append(st.ContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: "hollow://" + c.Image,
			ContainerID: "hollow://" + string(pod.UID) + "/" + c.Name,
			State:       corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
			Ready:       true, Started: ptr.To(true),
		})
	}
}

// placeholderIP gives a hollow pod a stable address in 10.250.0.0/16,
// derived from its UID (collisions are possible and harmless: nothing
// routes to hollow pods).
func placeholderIP(pod *corev1.Pod) string {
	h := fnv.New32a()
	h.Write([]byte(pod.UID))
	v := h.Sum32()
	return fmt.Sprintf("10.250.%d.%d", (v>>8)&0xff, v&0xff%254+1)
}

// RunHollowNode runs a hollow kubelet: the node agent (registration,
// heartbeat, status) and HollowPods, until ctx ends.
func RunHollowNode(ctx context.Context, cfg NodeConfig) error {
	agent, err := NewNodeAgent(cfg)
	if err != nil {
		return err
	}
	ip := cfg.NodeIP
	if ip == "" {
		ip = FirstIPv4()
	}
	pods := &HollowPods{Store: cfg.Store, Admission: cfg.Admission, Node: cfg.Name, HostIP: ip, Log: agent.log}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); pods.Run(ctx) }()
	err = agent.Run(ctx)
	cancel()
	wg.Wait()
	return err
}
