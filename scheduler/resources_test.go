package scheduler

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestPodRequests(t *testing.T) {
	tests := []struct {
		name        string
		pod         *corev1.Pod
		wantReq     Resources
		wantNonZero Resources
	}{
		{
			name: "plain containers are summed",
			pod: makePod("p", withContainers(
				ctr("a", "cpu", "100m", "memory", "128Mi", "ephemeral-storage", "1Gi"),
				ctr("b", "cpu", "250m", "memory", "256Mi"),
			)),
			wantReq:     Resources{MilliCPU: 350, Memory: 384 * mib, EphemeralStorage: 1 * gib},
			wantNonZero: Resources{MilliCPU: 350, Memory: 384 * mib, EphemeralStorage: 1 * gib},
		},
		{
			name:        "container without requests: zero real requests, scoring defaults 100m/200Mi",
			pod:         makePod("p", withContainers(ctr("a"))),
			wantReq:     Resources{},
			wantNonZero: Resources{MilliCPU: 100, Memory: 200 * mib},
		},
		{
			name: "defaults apply per container and per resource",
			pod: makePod("p", withContainers(
				ctr("cpu-only", "cpu", "500m"),
				ctr("mem-only", "memory", "1Gi"),
				ctr("nothing"),
				ctr("storage-only", "ephemeral-storage", "2Gi"),
			)),
			wantReq: Resources{MilliCPU: 500, Memory: 1 * gib, EphemeralStorage: 2 * gib},
			// cpu: 500 + 100 (mem-only) + 100 (nothing) + 100 (storage-only)
			// memory: 200Mi (cpu-only) + 1Gi + 200Mi + 200Mi
			wantNonZero: Resources{MilliCPU: 800, Memory: 1*gib + 600*mib, EphemeralStorage: 2 * gib},
		},
		{
			name: "explicit zero requests are not replaced by scoring defaults",
			pod:  makePod("p", withContainers(ctr("a", "cpu", "0", "memory", "0"))),
			// Kubernetes' NonMissingContainerRequests only fills in
			// missing entries; an explicit 0 stays 0.
			wantReq:     Resources{},
			wantNonZero: Resources{},
		},
		{
			name: "init container larger than the sum of containers wins, per resource",
			pod: makePod("p",
				withInitContainers(ctr("init", "cpu", "1", "memory", "50Mi")),
				withContainers(
					ctr("a", "cpu", "100m", "memory", "100Mi"),
					ctr("b", "cpu", "100m", "memory", "100Mi"),
				)),
			wantReq:     Resources{MilliCPU: 1000, Memory: 200 * mib},
			wantNonZero: Resources{MilliCPU: 1000, Memory: 200 * mib},
		},
		{
			name: "largest of several init containers",
			pod: makePod("p",
				withInitContainers(
					ctr("i1", "cpu", "300m", "memory", "1Gi"),
					ctr("i2", "cpu", "700m", "memory", "10Mi"),
				),
				withContainers(ctr("a", "cpu", "100m", "memory", "100Mi"))),
			wantReq:     Resources{MilliCPU: 700, Memory: 1 * gib},
			wantNonZero: Resources{MilliCPU: 700, Memory: 1 * gib},
		},
		{
			name: "init container without requests: defaults only for scoring",
			pod: makePod("p",
				withInitContainers(ctr("init")),
				withContainers(ctr("a", "cpu", "50m", "memory", "64Mi"))),
			wantReq:     Resources{MilliCPU: 50, Memory: 64 * mib},
			wantNonZero: Resources{MilliCPU: 100, Memory: 200 * mib},
		},
		{
			name: "sidecar is counted in the sum",
			pod: makePod("p",
				withInitContainers(sidecar("proxy", "cpu", "100m", "memory", "100Mi")),
				withContainers(ctr("a", "cpu", "200m", "memory", "200Mi"))),
			wantReq:     Resources{MilliCPU: 300, Memory: 300 * mib},
			wantNonZero: Resources{MilliCPU: 300, Memory: 300 * mib},
		},
		{
			name: "sidecar is added to later init containers only",
			pod: makePod("p",
				withInitContainers(
					ctr("before", "cpu", "350m"),                 // 350m: no sidecar runs yet
					sidecar("proxy", "cpu", "100m"),              // runs from here on
					ctr("after", "cpu", "300m", "memory", "1Gi"), // 300m + 100m = 400m
				),
				withContainers(ctr("a", "cpu", "200m", "memory", "100Mi"))), // 200m + 100m = 300m
			wantReq: Resources{MilliCPU: 400, Memory: 1 * gib},
			// nonzero: "before" 350m/200Mi; proxy 100m/200Mi;
			// "after" 300m/1Gi + proxy = 400m/1Gi+200Mi;
			// sum 200m/100Mi + proxy = 300m/300Mi.
			wantNonZero: Resources{MilliCPU: 400, Memory: 1*gib + 200*mib},
		},
		{
			name: "sidecars accumulate",
			pod: makePod("p",
				withInitContainers(
					sidecar("s1", "cpu", "100m", "memory", "10Mi"),
					sidecar("s2", "cpu", "200m", "memory", "20Mi"),
					ctr("init", "cpu", "1", "memory", "1Mi"),
				),
				withContainers(ctr("a", "cpu", "100m", "memory", "100Mi"))),
			// init: 1000m+300m / 1Mi+30Mi; sum: 400m / 130Mi.
			wantReq:     Resources{MilliCPU: 1300, Memory: 130 * mib},
			wantNonZero: Resources{MilliCPU: 1300, Memory: 130 * mib},
		},
		{
			name: "init container with RestartPolicy Never is not a sidecar",
			pod: makePod("p",
				withInitContainers(func() corev1.Container {
					c := ctr("init", "cpu", "100m", "memory", "100Mi")
					never := corev1.ContainerRestartPolicy("Never")
					c.RestartPolicy = &never
					return c
				}()),
				withContainers(ctr("a", "cpu", "200m", "memory", "200Mi"))),
			wantReq:     Resources{MilliCPU: 200, Memory: 200 * mib},
			wantNonZero: Resources{MilliCPU: 200, Memory: 200 * mib},
		},
		{
			name: "pod overhead is added",
			pod: makePod("p",
				withContainers(ctr("a", "cpu", "100m", "memory", "100Mi")),
				withOverhead("cpu", "250m", "memory", "120Mi")),
			wantReq:     Resources{MilliCPU: 350, Memory: 220 * mib},
			wantNonZero: Resources{MilliCPU: 350, Memory: 220 * mib},
		},
		{
			name: "pod overhead is added after the init container maximum",
			pod: makePod("p",
				withInitContainers(ctr("init", "cpu", "1")),
				withContainers(ctr("a", "cpu", "100m", "memory", "100Mi")),
				withOverhead("cpu", "250m", "memory", "120Mi")),
			wantReq: Resources{MilliCPU: 1250, Memory: 220 * mib},
			// nonzero: max(100m/100Mi, 1000m/200Mi default) + overhead.
			wantNonZero: Resources{MilliCPU: 1250, Memory: 320 * mib},
		},
		{
			name:        "pod overhead on top of scoring defaults",
			pod:         makePod("p", withContainers(ctr("a")), withOverhead("cpu", "250m", "memory", "120Mi")),
			wantReq:     Resources{MilliCPU: 250, Memory: 120 * mib},
			wantNonZero: Resources{MilliCPU: 350, Memory: 320 * mib},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, nz := podRequests(tt.pod)
			if req != tt.wantReq {
				t.Errorf("requests = %+v, want %+v", req, tt.wantReq)
			}
			if nz != tt.wantNonZero {
				t.Errorf("nonzero = %+v, want %+v", nz, tt.wantNonZero)
			}
			pi := NewPodInfo(tt.pod)
			if pi.Requests != tt.wantReq || pi.NonZero != tt.wantNonZero {
				t.Errorf("NewPodInfo = %+v / %+v, want %+v / %+v", pi.Requests, pi.NonZero, tt.wantReq, tt.wantNonZero)
			}
		})
	}
}

// With pod-level resources (PodLevelResources, on by default since
// Kubernetes 1.34), spec.resources.requests replace the containers' sum for
// cpu and memory (component-helpers resource.PodRequests), overhead added.
func TestPodRequestsPodLevelResources(t *testing.T) {
	pod := makePod("p",
		withContainers(ctr("a", "cpu", "100m"), ctr("b")),
		withOverhead("cpu", "50m"),
		func(p *corev1.Pod) {
			p.Spec.Resources = &corev1.ResourceRequirements{Requests: resList("cpu", "2", "memory", "1Gi")}
		})
	want := Resources{MilliCPU: 2050, Memory: 1 * gib}
	req, nz := podRequests(pod)
	if req != want || nz != want {
		t.Errorf("podRequests with pod.spec.resources: got %+v / nonzero %+v, want %+v for both", req, nz, want)
	}
}
