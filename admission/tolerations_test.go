package admission

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/utils/ptr"

	"github.com/shepherd-lab/shepherd/api"
)

func TestDefaultTolerationSeconds(t *testing.T) {
	notReady := corev1.Toleration{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)}
	unreachable := corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](60)}
	own := func(key string, effect corev1.TaintEffect, secs *int64) corev1.Toleration {
		return corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: effect, TolerationSeconds: secs}
	}
	for _, tc := range []struct {
		name string
		in   []corev1.Toleration
		want []corev1.Toleration
	}{
		{"none: both added", nil, []corev1.Toleration{notReady, unreachable}},
		{"an unrelated toleration is kept, both added",
			[]corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "gpu", Effect: corev1.TaintEffectNoSchedule}},
			[]corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "gpu", Effect: corev1.TaintEffectNoSchedule}, notReady, unreachable}},
		{"own unreachable NoExecute toleration kept",
			[]corev1.Toleration{own(corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute, ptr.To[int64](2))},
			[]corev1.Toleration{own(corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute, ptr.To[int64](2)), notReady}},
		{"own not-ready toleration for every effect",
			[]corev1.Toleration{own(corev1.TaintNodeNotReady, "", nil)},
			[]corev1.Toleration{own(corev1.TaintNodeNotReady, "", nil), unreachable}},
		{"a NoSchedule toleration does not count",
			[]corev1.Toleration{own(corev1.TaintNodeUnreachable, corev1.TaintEffectNoSchedule, nil)},
			[]corev1.Toleration{own(corev1.TaintNodeUnreachable, corev1.TaintEffectNoSchedule, nil), notReady, unreachable}},
		{"empty key Exists tolerates everything",
			[]corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			[]corev1.Toleration{{Operator: corev1.TolerationOpExists}}},
		{"empty key NoExecute covers both",
			[]corev1.Toleration{own("", corev1.TaintEffectNoExecute, ptr.To[int64](5))},
			[]corev1.Toleration{own("", corev1.TaintEffectNoExecute, ptr.To[int64](5))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{Spec: corev1.PodSpec{Tolerations: tc.in}}
			c := fakeCluster{settings: Settings{DefaultNotReadyTolerationSeconds: 300, DefaultUnreachableTolerationSeconds: 60}}
			if err := defaultTolerationSeconds(context.Background(), c, &Attributes{Operation: Create, Resource: api.Pods, Object: pod}); err != nil {
				t.Fatal(err)
			}
			if !apiequality.Semantic.DeepEqual(pod.Spec.Tolerations, tc.want) {
				t.Errorf("tolerations\n got %+v\nwant %+v", pod.Spec.Tolerations, tc.want)
			}
		})
	}
}
