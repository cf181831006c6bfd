package validation

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// oldStyleEvent is an event as client-go's recorder writes it.
func oldStyleEvent() *corev1.Event {
	return &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "web.17a2b3c4d5e6f7a8", Namespace: "default"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web"},
		Reason:         "Pulled", Message: "Container image pulled", Type: corev1.EventTypeNormal,
		Source: corev1.EventSource{Component: "kubelet", Host: "node-1"}, Count: 1,
	}
}

// newStyleEvent carries eventTime, as events.k8s.io clients write it.
func newStyleEvent() *corev1.Event {
	e := oldStyleEvent()
	e.EventTime = metav1.NewMicroTime(time.Unix(1700000000, 0))
	e.ReportingController = "shepherd.dev/scheduler"
	e.ReportingInstance = "scheduler-1"
	e.Action = "Binding"
	return e
}

func TestValidateEvent(t *testing.T) {
	tests := []struct {
		name  string
		event func() *corev1.Event
		want  []wantErr
	}{
		{"old style", oldStyleEvent, nil},
		{"new style", newStyleEvent, nil},
		{"node event in default", func() *corev1.Event {
			e := oldStyleEvent()
			e.InvolvedObject = corev1.ObjectReference{Kind: "Node", Name: "node-1"}
			return e
		}, nil},
		{"involved object in another namespace", func() *corev1.Event {
			e := oldStyleEvent()
			e.InvolvedObject.Namespace = "other"
			return e
		}, errs(invalid("involvedObject.namespace"))},
		{"cluster-scoped object outside default", func() *corev1.Event {
			e := oldStyleEvent()
			e.Namespace = "team-a"
			e.InvolvedObject = corev1.ObjectReference{Kind: "Node", Name: "node-1"}
			return e
		}, errs(invalid("involvedObject.namespace"))},
		{"bad reporting controller", func() *corev1.Event { e := newStyleEvent(); e.ReportingController = "a b"; return e },
			errs(invalid("reportingController"))},
		{"unknown type", func() *corev1.Event { e := oldStyleEvent(); e.Type = "Error"; return e }, errs(notSupported("type"))},
		{"long message on an old-style event", func() *corev1.Event {
			e := oldStyleEvent()
			e.Message = strings.Repeat("x", 2000)
			return e
		}, nil},
		{"new style without reporting fields", func() *corev1.Event {
			e := newStyleEvent()
			e.ReportingController, e.ReportingInstance, e.Action, e.Reason = "", "", "", ""
			return e
		}, errs(required("reportingController"), required("reportingInstance"),
			required("action"), required("reason"))},
		{"new style with long reason and message", func() *corev1.Event {
			e := newStyleEvent()
			e.Reason = strings.Repeat("r", 129)
			e.Message = strings.Repeat("m", 1025)
			return e
		}, errs(invalid("reason"), invalid("message"))},
		{"missing namespace", func() *corev1.Event {
			e := oldStyleEvent()
			e.Namespace, e.InvolvedObject.Namespace = "", ""
			return e
		}, errs(required("metadata.namespace"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assertErrors(t, ValidateEvent(tc.event()), tc.want)
		})
	}
}
