package kubelet

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-lab/shepherd/admission"
	"github.com/shepherd-lab/shepherd/storage"
)

func status(ready corev1.ConditionStatus, at time.Time) *corev1.NodeStatus {
	t := metav1.NewTime(at)
	return &corev1.NodeStatus{Conditions: []corev1.NodeCondition{
		{Type: corev1.NodeReady, Status: ready, LastHeartbeatTime: t, LastTransitionTime: t},
	}}
}

// Heartbeat times alone are no change worth a write; a condition's
// transition time survives writes that keep its status.
func TestStatusChangesAndTransitions(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	if !sameStatus(status(corev1.ConditionTrue, t0), status(corev1.ConditionTrue, t0.Add(time.Minute))) {
		t.Error("a newer heartbeat alone counted as a change")
	}
	if sameStatus(status(corev1.ConditionTrue, t0), status(corev1.ConditionFalse, t0)) {
		t.Error("Ready True → False not seen as a change")
	}
	a := &NodeAgent{}
	merged := a.mergeConditions(status(corev1.ConditionTrue, t0), status(corev1.ConditionTrue, t0.Add(time.Hour)))
	if c := merged.Conditions[0]; !c.LastTransitionTime.Time.Equal(t0) || !c.LastHeartbeatTime.Time.Equal(t0.Add(time.Hour)) {
		t.Errorf("same status: transition %v heartbeat %v", c.LastTransitionTime, c.LastHeartbeatTime)
	}
	merged = a.mergeConditions(status(corev1.ConditionTrue, t0), status(corev1.ConditionFalse, t0.Add(time.Hour)))
	if c := merged.Conditions[0]; !c.LastTransitionTime.Time.Equal(t0.Add(time.Hour)) {
		t.Errorf("changed status kept the old transition time %v", c.LastTransitionTime)
	}
}

func TestCgroupLimitsConditionWithoutHierarchy(t *testing.T) {
	s, reason, msg := (&NodeAgent{}).cgroupLimits()
	if s != corev1.ConditionFalse || reason != "NoCgroupManager" || msg == "" {
		t.Errorf("got %s %s %q", s, reason, msg)
	}
}

func TestNewNodeAgentDefaultsAndRefusals(t *testing.T) {
	if _, err := NewNodeAgent(NodeConfig{Name: "n"}); err == nil {
		t.Error("no store accepted")
	}
	if _, err := NewNodeAgent(NodeConfig{Store: &storage.Store{}, Name: "n"}); err == nil {
		t.Error("no admission accepted")
	}
	adm := admission.New(nil)
	if _, err := NewNodeAgent(NodeConfig{Store: &storage.Store{}, Admission: adm, Name: "n", LeaseDuration: time.Second}); err == nil {
		t.Error("a 1 s lease accepted: renewals every 250 ms would be all the kubelet does")
	}
	a, err := NewNodeAgent(NodeConfig{Store: &storage.Store{}, Admission: adm, Name: "n"})
	if err != nil || a.cfg.LeaseDuration != 40*time.Second || a.cfg.StatusReportInterval != 5*time.Minute || a.cfg.MaxPods != 110 {
		t.Errorf("defaults %+v, %v", a, err)
	}
}
