package kubelet

import (
	"context"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/runtime/container"
	"github.com/shepherd-lab/shepherd/storage/informer"
)

// Labels the kubelet puts on its containers (Kubernetes' names where
// Kubernetes has them): what a restarted kubelet re-adopts them by.
const (
	labelPodUID        = "io.kubernetes.pod.uid"
	labelPodName       = "io.kubernetes.pod.name"
	labelPodNamespace  = "io.kubernetes.pod.namespace"
	labelContainerName = "io.kubernetes.container.name"
	labelRestartCount  = "io.kubernetes.container.restartCount"
	labelInit          = "io.shepherd.container.init"
	labelImageID       = "io.shepherd.image.id"
)

// sandboxID names a pod's sandbox in the runtime.
func sandboxID(uid types.UID) string { return "pod-" + string(uid) }

// podManager runs one worker per pod bound to the node, keyed by UID (a
// pod deleted and created again under the same name is another pod).
type podManager struct {
	k   *Kubelet
	inf *informer.Informer

	mu      sync.Mutex
	ctx     context.Context
	workers map[types.UID]*podWorker
	// adopted are the containers found in the runtime at start-up, by pod,
	// handed to each pod's worker when it starts.
	adopted map[types.UID][]*container.State
	wg      sync.WaitGroup
}

func newPodManager(k *Kubelet) *podManager {
	return &podManager{k: k, workers: map[types.UID]*podWorker{}}
}

func (m *podManager) run(ctx context.Context) {
	m.mu.Lock()
	m.ctx = ctx
	m.adopted = map[types.UID][]*container.State{}
	m.mu.Unlock()
	if list, err := m.k.cfg.Runtime.List(); err != nil {
		m.k.log.Error("list containers to adopt", "err", err)
	} else {
		for _, st := range list {
			if uid := st.Labels[labelPodUID]; uid != "" {
				m.adopted[types.UID(uid)] = append(m.adopted[types.UID(uid)], st)
			}
		}
	}
	m.inf = informer.New(informer.Config{
		Store: m.k.cfg.Store, Resource: api.Pods.Storage, Index: api.NodeIndex, IndexValue: m.k.cfg.Name,
		Handler: informer.Funcs{
			Add:    func(obj runtime.Object) { m.update(obj.(*corev1.Pod)) },
			Update: func(_, obj runtime.Object) { m.update(obj.(*corev1.Pod)) },
			Delete: func(obj runtime.Object) { m.gone(obj.(*corev1.Pod).UID) },
		},
		Log: m.k.log,
	})
	m.wg.Add(1)
	go func() { defer m.wg.Done(); m.inf.Run(ctx) }()
	if m.inf.WaitSynced(ctx) == nil {
		m.cleanupOrphans(ctx)
	}
	<-ctx.Done()
	m.wg.Wait()
}

// update hands the newest version of a pod to its worker, starting one for
// a pod not seen before. Called from the informer: it never blocks.
func (m *podManager) update(pod *corev1.Pod) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ctx.Err() != nil {
		return
	}
	w := m.workers[pod.UID]
	if w == nil {
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			if pod.DeletionTimestamp == nil && len(m.adopted[pod.UID]) == 0 {
				// Finished before this kubelet started and nothing of it is
				// left here: nothing to do until it is deleted.
				return
			}
		}
		w = newPodWorker(m, pod.UID, m.adopted[pod.UID])
		delete(m.adopted, pod.UID)
		m.workers[pod.UID] = w
		// The pod before the goroutine: a worker's first sync must never
		// find it missing, or it tears the pod down as one that went and
		// forgets it, and a pod nothing changes again never starts.
		w.setPod(pod)
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			w.run(m.ctx)
		}()
		return
	}
	w.setPod(pod)
}

// gone tells a pod's worker that the pod is no longer in etcd.
func (m *podManager) gone(uid types.UID) {
	m.mu.Lock()
	w := m.workers[uid]
	m.mu.Unlock()
	if w != nil {
		w.setGone()
	}
}

// finished forgets a worker whose pod is torn down.
func (m *podManager) finished(uid types.UID) {
	m.mu.Lock()
	delete(m.workers, uid)
	m.mu.Unlock()
}

// workerFor finds the worker of the pod namespace/name as the informer
// has it now.
func (m *podManager) workerFor(namespace, name string) (*corev1.Pod, *podWorker) {
	if m.inf == nil {
		return nil, nil
	}
	obj := m.inf.Get(namespace, name)
	if obj == nil {
		return nil, nil
	}
	pod := obj.(*corev1.Pod)
	m.mu.Lock()
	defer m.mu.Unlock()
	return pod, m.workers[pod.UID]
}

// snapshotWorkers lists the live workers (metrics).
func (m *podManager) snapshotWorkers() []*podWorker {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*podWorker, 0, len(m.workers))
	for _, w := range m.workers {
		out = append(out, w)
	}
	return out
}

// cleanupOrphans stops what belongs to pods that are no longer in etcd
// (deleted while the kubelet was down, or force-deleted): their
// containers get OrphanGrace, then sandboxes and volume directories go.
func (m *podManager) cleanupOrphans(ctx context.Context) {
	known := map[types.UID]bool{}
	for _, obj := range m.inf.List() {
		known[obj.(*corev1.Pod).UID] = true
	}
	m.mu.Lock()
	for uid := range m.workers {
		known[uid] = true
	}
	orphans := map[types.UID]bool{}
	for uid, states := range m.adopted {
		if !known[uid] {
			orphans[uid] = true
			w := newPodWorker(m, uid, states)
			w.gone = true
			m.workers[uid] = w
			m.wg.Add(1)
			go func() { defer m.wg.Done(); w.run(ctx) }()
		}
	}
	m.adopted = nil
	m.mu.Unlock()
	for uid := range orphans {
		m.k.log.Info("stopping containers of a pod no longer in etcd", "uid", uid)
	}
	// Sandboxes and volume directories without containers.
	if ids, err := m.k.cfg.Runtime.ListSandboxes(); err == nil {
		for _, id := range ids {
			uid, ok := strings.CutPrefix(id, "pod-")
			if ok && !known[types.UID(uid)] && !orphans[types.UID(uid)] {
				if err := m.k.cfg.Runtime.RemoveSandbox(id); err != nil {
					m.k.log.Warn("remove orphaned sandbox", "sandbox", id, "err", err)
				}
			}
		}
	}
	vm := m.k.volumes()
	if uids, err := vm.PodUIDs(); err == nil {
		for _, uid := range uids {
			if !known[uid] && !orphans[uid] {
				if err := vm.Teardown(uid); err != nil {
					m.k.log.Warn("remove orphaned pod directory", "uid", uid, "err", err)
				}
			}
		}
	}
}

// attemptOf reads a container's restart count label.
func attemptOf(st *container.State) int {
	n, _ := strconv.Atoi(st.Labels[labelRestartCount])
	return n
}
