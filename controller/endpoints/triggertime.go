package endpoints

import (
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// triggerTimes computes the endpoints.kubernetes.io/last-change-trigger-time
// annotation as Kubernetes' TriggerTimeTracker does: the earliest time of
// the changes seen since a service's last sync, a change being a pod whose
// Ready condition moved (its lastTransitionTime) or the service being new
// (its creationTimestamp). Zero means no change is known.
type triggerTimes struct {
	mu    sync.Mutex
	state map[string]serviceTimes // by service key
}

type serviceTimes struct {
	service time.Time
	pods    map[string]time.Time // by pod name
}

func (t *triggerTimes) compute(key string, svc *corev1.Service, pods []*corev1.Pod) (time.Time, serviceTimes) {
	t.mu.Lock()
	prev, known := t.state[key]
	t.mu.Unlock()
	next := serviceTimes{service: svc.CreationTimestamp.Time, pods: make(map[string]time.Time, len(pods))}
	var min time.Time
	earliest := func(at time.Time) {
		if !at.IsZero() && (min.IsZero() || at.Before(min)) {
			min = at
		}
	}
	if !known || !prev.service.Equal(next.service) {
		earliest(next.service)
	}
	for _, pod := range pods {
		at := podTriggerTime(pod)
		next.pods[pod.Name] = at
		if old, ok := prev.pods[pod.Name]; !ok || !old.Equal(at) {
			earliest(at)
		}
	}
	return min, next
}

// commit records what compute saw for key.
func (t *triggerTimes) commit(key string, seen serviceTimes) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.state == nil {
		t.state = map[string]serviceTimes{}
	}
	t.state[key] = seen
}

func (t *triggerTimes) forget(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.state, key)
}

func podTriggerTime(pod *corev1.Pod) time.Time {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.LastTransitionTime.Time
		}
	}
	return time.Time{}
}
