package printers_test

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-lab/shepherd/api/printers"
)

func ExampleFor() {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", CreationTimestamp: metav1.NewTime(now.Add(-3 * time.Hour))},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web"}}, NodeName: "lab-1"},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning,
			PodIP: "10.244.1.7",
			ContainerStatuses: []corev1.ContainerStatus{{
				Name:         "web",
				RestartCount: 3,
				State:        corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
					ExitCode: 1, Reason: "Error", FinishedAt: metav1.NewTime(now.Add(-2 * time.Minute)),
				}},
			}},
		},
	}

	p := printers.For(corev1.SchemeGroupVersion.WithKind("Pod"))
	cells := p.Row(pod, now)
	for i, c := range p.Columns {
		wide := ""
		if c.Priority > 0 {
			wide = " (wide)"
		}
		fmt.Printf("%s%s: %v\n", c.Name, wide, cells[i])
	}
	// Output:
	// Name: web-1
	// Ready: 0/1
	// Status: CrashLoopBackOff
	// Restarts: 3 (2m ago)
	// Age: 3h
	// IP (wide): 10.244.1.7
	// Node (wide): lab-1
	// Nominated Node (wide): <none>
	// Readiness Gates (wide): <none>
}
