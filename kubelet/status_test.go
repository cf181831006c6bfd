package kubelet

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/shepherd-lab/shepherd/runtime/container"
)

var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

func running(id string) *container.State {
	return &container.State{ID: id, Status: container.StatusRunning, StartedAt: t0}
}

func exited(id string, code int) *container.State {
	return &container.State{ID: id, Status: container.StatusExited, StartedAt: t0,
		Exit: &container.ExitStatus{ExitCode: code, FinishedAt: t0.Add(time.Second)}}
}

func statusPod(policy corev1.RestartPolicy, inits, ctrs int) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}, Spec: corev1.PodSpec{RestartPolicy: policy}}
	for i := 0; i < inits; i++ {
		p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{Name: "init" + string(rune('a'+i))})
	}
	for i := 0; i < ctrs; i++ {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "c" + string(rune('a'+i))})
	}
	return p
}

func condition(st corev1.PodStatus, t corev1.PodConditionType) corev1.PodCondition {
	for _, c := range st.Conditions {
		if c.Type == t {
			return c
		}
	}
	return corev1.PodCondition{}
}

func TestPodPhaseAndConditions(t *testing.T) {
	for _, tc := range []struct {
		name        string
		pod         *corev1.Pod
		init, ctrs  []containerView
		phase       corev1.PodPhase
		initialized corev1.ConditionStatus
		ready       corev1.ConditionStatus
	}{
		{name: "nothing started yet", pod: statusPod(corev1.RestartPolicyAlways, 0, 1),
			ctrs:  []containerView{{Name: "ca", WaitReason: "ContainerCreating"}},
			phase: corev1.PodPending, initialized: corev1.ConditionTrue, ready: corev1.ConditionFalse},
		{name: "running and ready", pod: statusPod(corev1.RestartPolicyAlways, 0, 2),
			ctrs:  []containerView{{Name: "ca", Cur: running("1"), Ready: true, Started: true}, {Name: "cb", Cur: running("2"), Ready: true, Started: true}},
			phase: corev1.PodRunning, initialized: corev1.ConditionTrue, ready: corev1.ConditionTrue},
		{name: "one not ready", pod: statusPod(corev1.RestartPolicyAlways, 0, 2),
			ctrs:  []containerView{{Name: "ca", Cur: running("1"), Ready: true, Started: true}, {Name: "cb", Cur: running("2"), Started: true}},
			phase: corev1.PodRunning, initialized: corev1.ConditionTrue, ready: corev1.ConditionFalse},
		{name: "init container running", pod: statusPod(corev1.RestartPolicyAlways, 2, 1),
			init:  []containerView{{Name: "inita", Cur: exited("1", 0)}, {Name: "initb", Cur: running("2")}},
			ctrs:  []containerView{{Name: "ca", WaitReason: "PodInitializing"}},
			phase: corev1.PodPending, initialized: corev1.ConditionFalse, ready: corev1.ConditionFalse},
		{name: "init container failed, Never", pod: statusPod(corev1.RestartPolicyNever, 1, 1),
			init:  []containerView{{Name: "inita", Cur: exited("1", 2)}},
			ctrs:  []containerView{{Name: "ca", WaitReason: "PodInitializing"}},
			phase: corev1.PodFailed, initialized: corev1.ConditionFalse, ready: corev1.ConditionFalse},
		{name: "all succeeded, Never", pod: statusPod(corev1.RestartPolicyNever, 0, 2),
			ctrs:  []containerView{{Name: "ca", Cur: exited("1", 0)}, {Name: "cb", Cur: exited("2", 0)}},
			phase: corev1.PodSucceeded, initialized: corev1.ConditionTrue, ready: corev1.ConditionFalse},
		{name: "one failed, Never", pod: statusPod(corev1.RestartPolicyNever, 0, 2),
			ctrs:  []containerView{{Name: "ca", Cur: exited("1", 0)}, {Name: "cb", Cur: exited("2", 1)}},
			phase: corev1.PodFailed, initialized: corev1.ConditionTrue, ready: corev1.ConditionFalse},
		{name: "one failed, other running, Never", pod: statusPod(corev1.RestartPolicyNever, 0, 2),
			ctrs:  []containerView{{Name: "ca", Cur: running("1"), Started: true, Ready: true}, {Name: "cb", Cur: exited("2", 1)}},
			phase: corev1.PodRunning, initialized: corev1.ConditionTrue, ready: corev1.ConditionFalse},
		{name: "crash looping, Always", pod: statusPod(corev1.RestartPolicyAlways, 0, 1),
			ctrs:  []containerView{{Name: "ca", Cur: exited("1", 1), RestartCount: 3, WaitReason: "CrashLoopBackOff"}},
			phase: corev1.PodRunning, initialized: corev1.ConditionTrue, ready: corev1.ConditionFalse},
		{name: "failed, restarting, OnFailure", pod: statusPod(corev1.RestartPolicyOnFailure, 0, 1),
			ctrs:  []containerView{{Name: "ca", Cur: exited("1", 1), WaitReason: "CrashLoopBackOff"}},
			phase: corev1.PodRunning, initialized: corev1.ConditionTrue, ready: corev1.ConditionFalse},
		{name: "image pull failing before any start", pod: statusPod(corev1.RestartPolicyAlways, 0, 1),
			ctrs:  []containerView{{Name: "ca", WaitReason: "ImagePullBackOff"}},
			phase: corev1.PodPending, initialized: corev1.ConditionTrue, ready: corev1.ConditionFalse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := &podView{SandboxReady: true, PodIP: "10.250.0.9", HostIP: "192.0.2.1", StartTime: t0, Init: tc.init, Containers: tc.ctrs}
			st := computeStatus(tc.pod, v, t0)
			if st.Phase != tc.phase {
				t.Errorf("phase %s, want %s", st.Phase, tc.phase)
			}
			if c := condition(st, corev1.PodInitialized); c.Status != tc.initialized {
				t.Errorf("Initialized %s (%s), want %s", c.Status, c.Message, tc.initialized)
			}
			if c := condition(st, corev1.PodReady); c.Status != tc.ready {
				t.Errorf("Ready %s (%s), want %s", c.Status, c.Message, tc.ready)
			}
			if st.PodIP != "10.250.0.9" || st.HostIP != "192.0.2.1" || st.StartTime == nil {
				t.Errorf("podIP %q hostIP %q startTime %v", st.PodIP, st.HostIP, st.StartTime)
			}
		})
	}
}

// A container waiting to restart shows its last exit as lastState; one
// restarted shows the attempt before; an OOM kill says so.
func TestContainerStatusStates(t *testing.T) {
	cs := containerStatus(containerView{Name: "c", Cur: exited("a", 1), RestartCount: 2, WaitReason: "CrashLoopBackOff", WaitMessage: "back-off 20s"})
	if cs.State.Waiting == nil || cs.State.Waiting.Reason != "CrashLoopBackOff" || cs.LastTerminationState.Terminated == nil ||
		cs.LastTerminationState.Terminated.ExitCode != 1 || cs.LastTerminationState.Terminated.Reason != "Error" || cs.RestartCount != 2 {
		t.Errorf("crash loop: %+v", cs)
	}
	cs = containerStatus(containerView{Name: "c", Cur: running("b"), Prev: exited("a", 0), RestartCount: 1, Ready: true, Started: true})
	if cs.State.Running == nil || !cs.Ready || cs.ContainerID != "shepherd://b" || cs.LastTerminationState.Terminated == nil ||
		cs.LastTerminationState.Terminated.ContainerID != "shepherd://a" || cs.LastTerminationState.Terminated.Reason != "Completed" {
		t.Errorf("restarted: %+v", cs)
	}
	oom := exited("c", 137)
	oom.Exit.OOMKilled = true
	if cs = containerStatus(containerView{Name: "c", Cur: oom}); cs.State.Terminated == nil || cs.State.Terminated.Reason != "OOMKilled" || cs.State.Terminated.ExitCode != 137 {
		t.Errorf("OOM kill: %+v", cs)
	}
	lost := &container.State{ID: "d", Status: container.StatusUnknown, StartedAt: t0}
	if cs = containerStatus(containerView{Name: "c", Cur: lost}); cs.State.Terminated == nil || cs.State.Terminated.Reason != "ContainerStatusUnknown" {
		t.Errorf("lost monitor: %+v", cs)
	}
}

// Conditions keep their lastTransitionTime while unchanged; readiness
// gates hold Ready back; PodScheduled (the scheduler's) is kept.
func TestConditionsMerge(t *testing.T) {
	pod := statusPod(corev1.RestartPolicyAlways, 0, 1)
	pod.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/lb"}}
	v := &podView{SandboxReady: true, Containers: []containerView{{Name: "ca", Cur: running("1"), Ready: true, Started: true}}}
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}}
	st := computeStatus(pod, v, t0)
	if c := condition(st, corev1.PodReady); c.Status != corev1.ConditionFalse || c.Reason != "ReadinessGatesNotReady" {
		t.Errorf("Ready with an unmet gate: %+v", c)
	}
	if condition(st, corev1.PodScheduled).Status != corev1.ConditionTrue {
		t.Error("PodScheduled dropped")
	}
	pod.Status = st
	pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{Type: "example.com/lb", Status: corev1.ConditionTrue})
	st2 := computeStatus(pod, v, t0.Add(time.Minute))
	if c := condition(st2, corev1.PodReady); c.Status != corev1.ConditionTrue || !c.LastTransitionTime.Time.Equal(t0.Add(time.Minute)) {
		t.Errorf("Ready once the gate is met: %+v", c)
	}
	if c := condition(st2, corev1.ContainersReady); !c.LastTransitionTime.Time.Equal(t0) {
		t.Errorf("ContainersReady's transition time moved: %v", c.LastTransitionTime)
	}
	if st2.QOSClass != corev1.PodQOSBestEffort {
		t.Errorf("QoS %s", st2.QOSClass)
	}
}

func sidecarPod(policy corev1.RestartPolicy) *corev1.Pod {
	p := statusPod(policy, 2, 1)
	p.Spec.InitContainers[0].RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
	return p
}

// Init container statuses as Kubernetes 1.32 reports them during and
// after initialisation: not yet started is waiting PodInitializing (and so
// is every regular container until its first attempt); running is
// started and not ready; completed is terminated/Completed, ready and not
// started; failed is not ready. A sidecar is ready as a regular container.
func TestInitContainerStatuses(t *testing.T) {
	type want struct {
		state   string // "waiting:<reason>", "running", "terminated:<reason>"
		ready   bool
		started bool
	}
	stateOf := func(cs corev1.ContainerStatus) string {
		switch {
		case cs.State.Waiting != nil:
			return "waiting:" + cs.State.Waiting.Reason
		case cs.State.Running != nil:
			return "running"
		case cs.State.Terminated != nil:
			return "terminated:" + cs.State.Terminated.Reason
		}
		return "none"
	}
	for _, tc := range []struct {
		name       string
		pod        *corev1.Pod
		init, ctrs []containerView
		wantInit   []want
		wantCtrs   []want
	}{
		{name: "nothing started", pod: statusPod(corev1.RestartPolicyAlways, 2, 1),
			init:     []containerView{{Name: "inita"}, {Name: "initb"}},
			ctrs:     []containerView{{Name: "ca"}},
			wantInit: []want{{state: "waiting:PodInitializing"}, {state: "waiting:PodInitializing"}},
			wantCtrs: []want{{state: "waiting:PodInitializing"}}},
		{name: "first pulling its image", pod: statusPod(corev1.RestartPolicyAlways, 2, 1),
			init:     []containerView{{Name: "inita", WaitReason: "ErrImagePull", WaitMessage: "no such image"}, {Name: "initb"}},
			ctrs:     []containerView{{Name: "ca", WaitReason: "PodInitializing"}},
			wantInit: []want{{state: "waiting:ErrImagePull"}, {state: "waiting:PodInitializing"}},
			wantCtrs: []want{{state: "waiting:PodInitializing"}}},
		{name: "first running", pod: statusPod(corev1.RestartPolicyAlways, 2, 1),
			// The worker's view says ready (no readiness probe); a running
			// init container is not ready all the same.
			init:     []containerView{{Name: "inita", Cur: running("1"), Started: true, Ready: true}, {Name: "initb"}},
			ctrs:     []containerView{{Name: "ca", WaitReason: "PodInitializing"}},
			wantInit: []want{{state: "running", started: true}, {state: "waiting:PodInitializing"}},
			wantCtrs: []want{{state: "waiting:PodInitializing"}}},
		{name: "first done, second running", pod: statusPod(corev1.RestartPolicyAlways, 2, 1),
			init:     []containerView{{Name: "inita", Cur: exited("1", 0)}, {Name: "initb", Cur: running("2"), Started: true}},
			ctrs:     []containerView{{Name: "ca", WaitReason: "PodInitializing"}},
			wantInit: []want{{state: "terminated:Completed", ready: true}, {state: "running", started: true}},
			wantCtrs: []want{{state: "waiting:PodInitializing"}}},
		{name: "all done, container running", pod: statusPod(corev1.RestartPolicyAlways, 2, 1),
			init:     []containerView{{Name: "inita", Cur: exited("1", 0)}, {Name: "initb", Cur: exited("2", 0)}},
			ctrs:     []containerView{{Name: "ca", Cur: running("3"), Started: true, Ready: true}},
			wantInit: []want{{state: "terminated:Completed", ready: true}, {state: "terminated:Completed", ready: true}},
			wantCtrs: []want{{state: "running", ready: true, started: true}}},
		{name: "failed, Never", pod: statusPod(corev1.RestartPolicyNever, 2, 1),
			init:     []containerView{{Name: "inita", Cur: exited("1", 1)}, {Name: "initb"}},
			ctrs:     []containerView{{Name: "ca", WaitReason: "PodInitializing"}},
			wantInit: []want{{state: "terminated:Error"}, {state: "waiting:PodInitializing"}},
			wantCtrs: []want{{state: "waiting:PodInitializing"}}},
		{name: "failed, back-off", pod: statusPod(corev1.RestartPolicyAlways, 1, 1),
			init:     []containerView{{Name: "inita", Cur: exited("1", 1), WaitReason: "CrashLoopBackOff"}},
			ctrs:     []containerView{{Name: "ca", WaitReason: "PodInitializing"}},
			wantInit: []want{{state: "waiting:CrashLoopBackOff"}},
			wantCtrs: []want{{state: "waiting:PodInitializing"}}},
		{name: "sidecar running and ready, init done", pod: sidecarPod(corev1.RestartPolicyAlways),
			init:     []containerView{{Name: "inita", Cur: running("1"), Started: true, Ready: true}, {Name: "initb", Cur: exited("2", 0)}},
			ctrs:     []containerView{{Name: "ca", Cur: running("3"), Started: true, Ready: true}},
			wantInit: []want{{state: "running", ready: true, started: true}, {state: "terminated:Completed", ready: true}},
			wantCtrs: []want{{state: "running", ready: true, started: true}}},
		{name: "sidecar running, not ready yet", pod: sidecarPod(corev1.RestartPolicyAlways),
			init:     []containerView{{Name: "inita", Cur: running("1"), Started: true}, {Name: "initb", Cur: running("2"), Started: true}},
			ctrs:     []containerView{{Name: "ca", WaitReason: "PodInitializing"}},
			wantInit: []want{{state: "running", started: true}, {state: "running", started: true}},
			wantCtrs: []want{{state: "waiting:PodInitializing"}}},
		{name: "no init containers: ContainerCreating", pod: statusPod(corev1.RestartPolicyAlways, 0, 1),
			ctrs:     []containerView{{Name: "ca"}},
			wantCtrs: []want{{state: "waiting:ContainerCreating"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := &podView{SandboxReady: true, StartTime: t0, Init: tc.init, Containers: tc.ctrs}
			st := computeStatus(tc.pod, v, t0)
			check := func(kind string, got []corev1.ContainerStatus, want []want) {
				if len(got) != len(want) {
					t.Fatalf("%s: %d statuses, want %d", kind, len(got), len(want))
				}
				for i, w := range want {
					cs := got[i]
					started := cs.Started != nil && *cs.Started
					if g := stateOf(cs); g != w.state || cs.Ready != w.ready || started != w.started {
						t.Errorf("%s %s: %s ready=%v started=%v, want %s ready=%v started=%v", kind, cs.Name, g, cs.Ready, started, w.state, w.ready, w.started)
					}
				}
			}
			check("init container", st.InitContainerStatuses, tc.wantInit)
			check("container", st.ContainerStatuses, tc.wantCtrs)
		})
	}
}
