package printers

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func TestEventRow(t *testing.T) {
	tests := []struct {
		name  string
		event corev1.Event
		want  []any
	}{
		{
			name: "legacy event from the kubelet",
			event: corev1.Event{
				ObjectMeta:     objectMeta("web-1.17f2a"),
				InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web-1", FieldPath: "spec.containers{web}"},
				Type:           corev1.EventTypeWarning,
				Reason:         "BackOff",
				Message:        "Back-off restarting failed container web in pod web-1\n",
				Source:         corev1.EventSource{Component: "kubelet", Host: "lab-1"},
				FirstTimestamp: ago(3 * time.Hour),
				LastTimestamp:  ago(5 * time.Minute),
				Count:          7,
			},
			want: []any{"5m", "Warning", "BackOff", "pod/web-1", "spec.containers{web}", "kubelet, lab-1",
				"Back-off restarting failed container web in pod web-1", "3h", int64(7), "web-1.17f2a"},
		},
		{
			name: "events.k8s.io event without legacy fields",
			event: corev1.Event{
				ObjectMeta:          objectMeta("web-1.17f2b"),
				InvolvedObject:      corev1.ObjectReference{Kind: "Pod", Name: "web-1"},
				Type:                corev1.EventTypeNormal,
				Reason:              "Scheduled",
				Message:             "Successfully assigned default/web-1 to lab-2",
				ReportingController: "default-scheduler",
				EventTime:           microAgo(90 * time.Second),
			},
			want: []any{"90s", "Normal", "Scheduled", "pod/web-1", "", "default-scheduler",
				"Successfully assigned default/web-1 to lab-2", "90s", int64(1), "web-1.17f2b"},
		},
		{
			name: "series",
			event: corev1.Event{
				ObjectMeta:          objectMeta("lab-1.17f2c"),
				InvolvedObject:      corev1.ObjectReference{Kind: "Node", Name: "lab-1"},
				Type:                corev1.EventTypeNormal,
				Reason:              "NodeHasSufficientMemory",
				ReportingController: "kubelet",
				ReportingInstance:   "lab-1",
				EventTime:           microAgo(2 * time.Hour),
				Count:               3, // superseded by the series
				Series:              &corev1.EventSeries{Count: 12, LastObservedTime: microAgo(30 * time.Second)},
			},
			want: []any{"30s", "Normal", "NodeHasSufficientMemory", "node/lab-1", "", "kubelet, lab-1", "", "120m", int64(12), "lab-1.17f2c"},
		},
		{
			name: "object without a name, legacy source preferred",
			event: corev1.Event{
				ObjectMeta:          objectMeta("cluster.17f2d"),
				InvolvedObject:      corev1.ObjectReference{Kind: "ClusterRole"},
				Source:              corev1.EventSource{Component: "rbac"},
				ReportingController: "ignored",
				ReportingInstance:   "instance-1",
				FirstTimestamp:      ago(10 * time.Minute),
			},
			want: []any{"10m", "", "", "clusterrole", "", "rbac, instance-1", "", "10m", int64(1), "cluster.17f2d"},
		},
		{
			name:  "no times at all",
			event: corev1.Event{ObjectMeta: objectMeta("x")},
			want:  []any{"<unknown>", "", "", "", "", "", "", "<unknown>", int64(1), "x"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkRow(t, rowOf(t, eventGVK, &tt.event), tt.want)
		})
	}
}
