package printers

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Container states for building pod statuses.
func running() corev1.ContainerState {
	return corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: ago(time.Hour)}}
}

func waiting(reason string) corev1.ContainerState {
	return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}
}

func terminated(reason string, exitCode, signal int32) corev1.ContainerState {
	return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: reason, ExitCode: exitCode, Signal: signal}}
}

// lastRun is a previous run that finished d before now: what dates the
// latest restart.
func lastRun(d time.Duration) corev1.ContainerState {
	return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 1, FinishedAt: ago(d)}}
}

func condition(t corev1.PodConditionType, s corev1.ConditionStatus) corev1.PodCondition {
	return corev1.PodCondition{Type: t, Status: s}
}

func containers(names ...string) []corev1.Container {
	var cs []corev1.Container
	for _, n := range names {
		cs = append(cs, corev1.Container{Name: n, Image: n + ":latest"})
	}
	return cs
}

// TestPodStatusColumns covers how kubectl summarizes a pod in the READY,
// STATUS and RESTARTS columns.
func TestPodStatusColumns(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	yes, no := true, false
	deleted := ago(time.Minute)

	tests := []struct {
		name                    string
		pod                     corev1.Pod
		ready, status, restarts string
	}{
		{
			name: "running and ready",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: containers("web", "log")},
				Status: corev1.PodStatus{
					Phase:      corev1.PodRunning,
					Conditions: []corev1.PodCondition{condition(corev1.PodReady, corev1.ConditionTrue)},
					ContainerStatuses: []corev1.ContainerStatus{
						{Name: "web", Ready: true, State: running()},
						{Name: "log", Ready: true, State: running()},
					},
				},
			},
			ready: "2/2", status: "Running", restarts: "0",
		},
		{
			name: "running but not ready",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: containers("web")},
				Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
					{Name: "web", State: running()},
				}},
			},
			ready: "0/1", status: "Running", restarts: "0",
		},
		{
			name:  "pending without statuses",
			pod:   corev1.Pod{Spec: corev1.PodSpec{Containers: containers("web")}, Status: corev1.PodStatus{Phase: corev1.PodPending}},
			ready: "0/1", status: "Pending", restarts: "0",
		},
		{
			name: "scheduling gated",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: containers("web")},
				Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{
					{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonSchedulingGated},
				}},
			},
			ready: "0/1", status: "SchedulingGated", restarts: "0",
		},
		{
			name: "container creating",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: containers("web")},
				Status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{
					{Name: "web", State: waiting("ContainerCreating")},
				}},
			},
			ready: "0/1", status: "ContainerCreating", restarts: "0",
		},
		{
			name: "crash loop with restarts",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: containers("web")},
				Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
					{Name: "web", RestartCount: 5, State: waiting("CrashLoopBackOff"), LastTerminationState: lastRun(2 * time.Minute)},
				}},
			},
			ready: "0/1", status: "CrashLoopBackOff", restarts: "5 (2m ago)",
		},
		{
			name: "restarts dated by the latest of several containers",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: containers("web", "log")},
				Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
					{Name: "web", RestartCount: 1, Ready: true, State: running(), LastTerminationState: lastRun(3 * time.Hour)},
					{Name: "log", RestartCount: 2, Ready: true, State: running(), LastTerminationState: lastRun(45 * time.Second)},
				}},
			},
			ready: "2/2", status: "Running", restarts: "3 (45s ago)",
		},
		{
			name: "restarts without a previous run",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: containers("web")},
				Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
					{Name: "web", RestartCount: 3, Ready: true, State: running()},
				}},
			},
			ready: "1/1", status: "Running", restarts: "3",
		},
		{
			name: "first init container running",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{InitContainers: containers("migrate", "seed"), Containers: containers("web")},
				Status: corev1.PodStatus{
					Phase:                 corev1.PodPending,
					InitContainerStatuses: []corev1.ContainerStatus{{Name: "migrate", State: running()}, {Name: "seed", State: waiting("PodInitializing")}},
					ContainerStatuses:     []corev1.ContainerStatus{{Name: "web", State: waiting("PodInitializing")}},
				},
			},
			ready: "0/1", status: "Init:0/2", restarts: "0",
		},
		{
			name: "second init container starting",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{InitContainers: containers("migrate", "seed"), Containers: containers("web")},
				Status: corev1.PodStatus{
					Phase: corev1.PodPending,
					InitContainerStatuses: []corev1.ContainerStatus{
						{Name: "migrate", State: terminated("Completed", 0, 0)},
						{Name: "seed", State: waiting("PodInitializing")},
					},
				},
			},
			ready: "0/1", status: "Init:1/2", restarts: "0",
		},
		{
			name: "init container in crash loop",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{InitContainers: containers("migrate"), Containers: containers("web")},
				Status: corev1.PodStatus{
					Phase: corev1.PodPending,
					InitContainerStatuses: []corev1.ContainerStatus{
						{Name: "migrate", RestartCount: 4, State: waiting("CrashLoopBackOff"), LastTerminationState: lastRun(30 * time.Second)},
					},
					// App containers do not count while initializing.
					ContainerStatuses: []corev1.ContainerStatus{{Name: "web", RestartCount: 9, State: waiting("PodInitializing")}},
				},
			},
			ready: "0/1", status: "Init:CrashLoopBackOff", restarts: "4 (30s ago)",
		},
		{
			name: "init container failed",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{InitContainers: containers("migrate"), Containers: containers("web")},
				Status: corev1.PodStatus{Phase: corev1.PodFailed, InitContainerStatuses: []corev1.ContainerStatus{
					{Name: "migrate", State: terminated("Error", 1, 0)},
				}},
			},
			ready: "0/1", status: "Init:Error", restarts: "0",
		},
		{
			name: "init container exited without reason",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{InitContainers: containers("migrate"), Containers: containers("web")},
				Status: corev1.PodStatus{Phase: corev1.PodPending, InitContainerStatuses: []corev1.ContainerStatus{
					{Name: "migrate", State: terminated("", 2, 0)},
				}},
			},
			ready: "0/1", status: "Init:ExitCode:2", restarts: "0",
		},
		{
			name: "init container killed by a signal",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{InitContainers: containers("migrate"), Containers: containers("web")},
				Status: corev1.PodStatus{Phase: corev1.PodPending, InitContainerStatuses: []corev1.ContainerStatus{
					{Name: "migrate", State: terminated("", 137, 9)},
				}},
			},
			ready: "0/1", status: "Init:Signal:9", restarts: "0",
		},
		{
			name: "initialized pod keeps a failed init reason but counts app restarts",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{InitContainers: containers("migrate"), Containers: containers("web")},
				Status: corev1.PodStatus{
					Phase:      corev1.PodRunning,
					Conditions: []corev1.PodCondition{condition(corev1.PodInitialized, corev1.ConditionTrue)},
					InitContainerStatuses: []corev1.ContainerStatus{
						{Name: "migrate", RestartCount: 2, State: terminated("Error", 1, 0), LastTerminationState: lastRun(time.Hour)},
					},
					ContainerStatuses: []corev1.ContainerStatus{
						{Name: "web", RestartCount: 4, Ready: true, State: running(), LastTerminationState: lastRun(20 * time.Second)},
					},
				},
			},
			ready: "1/1", status: "Init:Error", restarts: "4 (20s ago)",
		},
		{
			name: "sidecar started and app running",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{
					InitContainers: []corev1.Container{{Name: "migrate"}, {Name: "proxy", RestartPolicy: &always}},
					Containers:     containers("web"),
				},
				Status: corev1.PodStatus{
					Phase:      corev1.PodRunning,
					Conditions: []corev1.PodCondition{condition(corev1.PodInitialized, corev1.ConditionTrue), condition(corev1.PodReady, corev1.ConditionTrue)},
					InitContainerStatuses: []corev1.ContainerStatus{
						// The finished init container's restarts no longer count.
						{Name: "migrate", RestartCount: 7, State: terminated("Completed", 0, 0), LastTerminationState: lastRun(time.Minute)},
						{Name: "proxy", RestartCount: 2, Started: &yes, Ready: true, State: running(), LastTerminationState: lastRun(5 * time.Minute)},
					},
					ContainerStatuses: []corev1.ContainerStatus{
						{Name: "web", RestartCount: 1, Ready: true, State: running(), LastTerminationState: lastRun(time.Hour)},
					},
				},
			},
			ready: "2/2", status: "Running", restarts: "3 (5m ago)",
		},
		{
			name: "sidecar not started yet",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{
					InitContainers: []corev1.Container{{Name: "proxy", RestartPolicy: &always}},
					Containers:     containers("web"),
				},
				Status: corev1.PodStatus{Phase: corev1.PodPending, InitContainerStatuses: []corev1.ContainerStatus{
					{Name: "proxy", Started: &no, State: running()},
				}},
			},
			ready: "0/2", status: "Init:0/1", restarts: "0",
		},
		{
			name: "completed",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: containers("job")},
				Status: corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{
					{Name: "job", State: terminated("Completed", 0, 0)},
				}},
			},
			ready: "0/1", status: "Completed", restarts: "0",
		},
		{
			name: "one container completed while another runs, pod not ready",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: containers("once", "web")},
				Status: corev1.PodStatus{
					Phase:      corev1.PodRunning,
					Conditions: []corev1.PodCondition{condition(corev1.PodReady, corev1.ConditionFalse)},
					ContainerStatuses: []corev1.ContainerStatus{
						{Name: "once", State: terminated("Completed", 0, 0)},
						{Name: "web", Ready: true, State: running()},
					},
				},
			},
			ready: "1/2", status: "NotReady", restarts: "0",
		},
		{
			name: "one container completed while another runs, pod ready",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: containers("once", "web")},
				Status: corev1.PodStatus{
					Phase:      corev1.PodRunning,
					Conditions: []corev1.PodCondition{condition(corev1.PodReady, corev1.ConditionTrue)},
					ContainerStatuses: []corev1.ContainerStatus{
						{Name: "once", State: terminated("Completed", 0, 0)},
						{Name: "web", Ready: true, State: running()},
					},
				},
			},
			ready: "1/2", status: "Running", restarts: "0",
		},
		{
			name: "first container's reason wins",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: containers("web", "log")},
				Status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{
					{Name: "web", State: waiting("ImagePullBackOff")},
					{Name: "log", State: waiting("ErrImagePull")},
				}},
			},
			ready: "0/2", status: "ImagePullBackOff", restarts: "0",
		},
		{
			name: "container error",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: containers("job")},
				Status: corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{
					{Name: "job", State: terminated("Error", 1, 0)},
				}},
			},
			ready: "0/1", status: "Error", restarts: "0",
		},
		{
			name: "container exited without reason",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: containers("job")},
				Status: corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{
					{Name: "job", State: terminated("", 3, 0)},
				}},
			},
			ready: "0/1", status: "ExitCode:3", restarts: "0",
		},
		{
			name: "container killed by a signal",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: containers("job")},
				Status: corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{
					{Name: "job", State: terminated("", 143, 15)},
				}},
			},
			ready: "0/1", status: "Signal:15", restarts: "0",
		},
		{
			name:  "evicted",
			pod:   corev1.Pod{Spec: corev1.PodSpec{Containers: containers("web")}, Status: corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted"}},
			ready: "0/1", status: "Evicted", restarts: "0",
		},
		{
			name: "terminating",
			pod: corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &deleted},
				Spec:       corev1.PodSpec{Containers: containers("web")},
				Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
					{Name: "web", Ready: true, State: running()},
				}},
			},
			ready: "1/1", status: "Terminating", restarts: "0",
		},
		{
			name: "terminating while pending",
			pod: corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &deleted},
				Spec:       corev1.PodSpec{Containers: containers("web")},
				Status:     corev1.PodStatus{Phase: corev1.PodPending},
			},
			ready: "0/1", status: "Terminating", restarts: "0",
		},
		{
			name: "deleted after completing",
			pod: corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &deleted},
				Spec:       corev1.PodSpec{Containers: containers("job")},
				Status: corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{
					{Name: "job", State: terminated("Completed", 0, 0)},
				}},
			},
			ready: "0/1", status: "Completed", restarts: "0",
		},
		{
			name: "deleted on a lost node",
			pod: corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &deleted},
				Spec:       corev1.PodSpec{Containers: containers("web")},
				Status: corev1.PodStatus{Phase: corev1.PodRunning, Reason: "NodeLost", ContainerStatuses: []corev1.ContainerStatus{
					{Name: "web", Ready: true, State: running()},
				}},
			},
			ready: "1/1", status: "Unknown", restarts: "0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.pod.ObjectMeta.Name = "web-1"
			got := cellsByColumn(t, podGVK, &tt.pod)
			if got["Ready"] != tt.ready || got["Status"] != tt.status || got["Restarts"] != tt.restarts {
				t.Errorf("READY, STATUS, RESTARTS = %q, %q, %q; want %q, %q, %q",
					got["Ready"], got["Status"], got["Restarts"], tt.ready, tt.status, tt.restarts)
			}
		})
	}
}

func TestPodRow(t *testing.T) {
	tests := []struct {
		name string
		pod  corev1.Pod
		want []any
	}{
		{
			name: "scheduled, with address and readiness gates",
			pod: corev1.Pod{
				ObjectMeta: objectMeta("web-1"),
				Spec: corev1.PodSpec{
					NodeName:   "node-2",
					Containers: containers("web"),
					ReadinessGates: []corev1.PodReadinessGate{
						{ConditionType: "example.com/lb"}, {ConditionType: "example.com/dns"}, {ConditionType: "example.com/fw"},
					},
				},
				Status: corev1.PodStatus{
					Phase:  corev1.PodRunning,
					PodIP:  "10.244.1.7",
					PodIPs: []corev1.PodIP{{IP: "10.244.1.7"}, {IP: "fd00::7"}},
					Conditions: []corev1.PodCondition{
						condition("example.com/lb", corev1.ConditionTrue),
						condition("example.com/dns", corev1.ConditionFalse),
						condition(corev1.PodReady, corev1.ConditionFalse),
					},
					ContainerStatuses: []corev1.ContainerStatus{{Name: "web", Ready: true, State: running()}},
				},
			},
			want: []any{"web-1", "1/1", "Running", "0", "10m", "10.244.1.7", "node-2", "<none>", "1/3"},
		},
		{
			name: "unscheduled, nominated",
			pod: corev1.Pod{
				ObjectMeta: objectMeta("web-2"),
				Spec:       corev1.PodSpec{Containers: containers("web")},
				Status:     corev1.PodStatus{Phase: corev1.PodPending, NominatedNodeName: "node-3"},
			},
			want: []any{"web-2", "0/1", "Pending", "0", "10m", "<none>", "<none>", "node-3", "<none>"},
		},
		{
			name: "only podIPs set",
			pod: corev1.Pod{
				ObjectMeta: objectMeta("web-3"),
				Spec:       corev1.PodSpec{Containers: containers("web"), NodeName: "node-1"},
				Status:     corev1.PodStatus{Phase: corev1.PodPending, PodIPs: []corev1.PodIP{{IP: "fd00::9"}}},
			},
			want: []any{"web-3", "0/1", "Pending", "0", "10m", "fd00::9", "node-1", "<none>", "<none>"},
		},
		{
			name: "no creation time",
			pod:  corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-4"}},
			want: []any{"web-4", "0/0", "", "0", "<unknown>", "<none>", "<none>", "<none>", "<none>"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkRow(t, rowOf(t, podGVK, &tt.pod), tt.want)
		})
	}
}
