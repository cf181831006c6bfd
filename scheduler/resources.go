package scheduler

import (
	corev1 "k8s.io/api/core/v1"
)

// Resources are the amounts the scheduler accounts per node.
type Resources struct {
	MilliCPU         int64
	Memory           int64
	EphemeralStorage int64
}

func (r *Resources) add(o Resources) {
	r.MilliCPU += o.MilliCPU
	r.Memory += o.Memory
	r.EphemeralStorage += o.EphemeralStorage
}

func (r *Resources) sub(o Resources) {
	r.MilliCPU -= o.MilliCPU
	r.Memory -= o.Memory
	r.EphemeralStorage -= o.EphemeralStorage
}

// Requests a container without any are counted with when scoring (not when
// filtering), as Kubernetes does, so empty pods still spread.
const (
	defaultMilliCPURequest = 100               // 0.1 core
	defaultMemoryRequest   = 200 * 1024 * 1024 // 200 MiB
)

func resourcesOf(list corev1.ResourceList) Resources {
	var r Resources
	if q, ok := list[corev1.ResourceCPU]; ok {
		r.MilliCPU = q.MilliValue()
	}
	if q, ok := list[corev1.ResourceMemory]; ok {
		r.Memory = q.Value()
	}
	if q, ok := list[corev1.ResourceEphemeralStorage]; ok {
		r.EphemeralStorage = q.Value()
	}
	return r
}

func nonZero(list corev1.ResourceList) Resources {
	r := resourcesOf(list)
	if _, ok := list[corev1.ResourceCPU]; !ok {
		r.MilliCPU = defaultMilliCPURequest
	}
	if _, ok := list[corev1.ResourceMemory]; !ok {
		r.Memory = defaultMemoryRequest
	}
	return r
}

func maxResources(a, b Resources) Resources {
	return Resources{
		MilliCPU:         max(a.MilliCPU, b.MilliCPU),
		Memory:           max(a.Memory, b.Memory),
		EphemeralStorage: max(a.EphemeralStorage, b.EphemeralStorage),
	}
}

// podRequests is what a pod asks of its node, as Kubernetes computes it: the
// sum of its containers' requests (sidecars — init containers that restart
// always — included), or the largest init container's plus the sidecars
// started before it if that is more, plus the pod overhead. nonzero is the
// same with the scoring defaults for containers that request nothing.
func podRequests(pod *corev1.Pod) (req, nonzero Resources) {
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		req.add(resourcesOf(c.Resources.Requests))
		nonzero.add(nonZero(c.Resources.Requests))
	}
	var sidecars, sidecarsNZ, initMax, initMaxNZ Resources
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		r, nz := resourcesOf(c.Resources.Requests), nonZero(c.Resources.Requests)
		if isSidecar(c) {
			sidecars.add(r)
			sidecarsNZ.add(nz)
			req.add(r)
			nonzero.add(nz)
			continue
		}
		r.add(sidecars)
		nz.add(sidecarsNZ)
		initMax, initMaxNZ = maxResources(initMax, r), maxResources(initMaxNZ, nz)
	}
	req, nonzero = maxResources(req, initMax), maxResources(nonzero, initMaxNZ)
	// Pod-level requests (spec.resources), where given, replace the sum of
	// the containers' for that resource.
	if pr := pod.Spec.Resources; pr != nil {
		if q, ok := pr.Requests[corev1.ResourceCPU]; ok {
			req.MilliCPU, nonzero.MilliCPU = q.MilliValue(), q.MilliValue()
		}
		if q, ok := pr.Requests[corev1.ResourceMemory]; ok {
			req.Memory, nonzero.Memory = q.Value(), q.Value()
		}
	}
	if pod.Spec.Overhead != nil {
		req.add(resourcesOf(pod.Spec.Overhead))
		nonzero.add(resourcesOf(pod.Spec.Overhead))
	}
	return req, nonzero
}
