package endpoints

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

type podOpt func(*corev1.Pod)

func pod(name, ip string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID("uid-" + name)},
		Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "c",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}}}},
		Status: corev1.PodStatus{PodIP: ip, Phase: corev1.PodRunning,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func notReady(p *corev1.Pod) { p.Status.Conditions[0].Status = corev1.ConditionFalse }
func httpPort(n int32) podOpt {
	return func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = n }
}
func noPorts(p *corev1.Pod) { p.Spec.Containers[0].Ports = nil }

func service(ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web"},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, ClusterIP: "10.0.0.1", Ports: ports},
	}
}

func addr(name, ip string) corev1.EndpointAddress {
	node := "node-1"
	return corev1.EndpointAddress{IP: ip, NodeName: &node,
		TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "ns", Name: name, UID: types.UID("uid-" + name)}}
}

func TestSubsets(t *testing.T) {
	tcp := corev1.ProtocolTCP
	byNumber := corev1.ServicePort{Name: "web", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: tcp}
	byName := corev1.ServicePort{Name: "web", Port: 80, TargetPort: intstr.FromString("http"), Protocol: tcp}
	metrics := corev1.ServicePort{Name: "metrics", Port: 9090, TargetPort: intstr.FromInt32(9090), Protocol: tcp}
	ep := func(name string, n int32) corev1.EndpointPort {
		return corev1.EndpointPort{Name: name, Port: n, Protocol: tcp}
	}
	headless := service()
	headless.Spec.ClusterIP = corev1.ClusterIPNone
	publish := service(byNumber)
	publish.Spec.PublishNotReadyAddresses = true
	hostnamed := func(p *corev1.Pod) { p.Spec.Hostname, p.Spec.Subdomain = "h", "web" }
	withHost := addr("a", "10.1.0.1")
	withHost.Hostname = "h"
	deleting := func(p *corev1.Pod) { now := metav1.Now(); p.DeletionTimestamp = &now }

	tests := []struct {
		name string
		svc  *corev1.Service
		pods []*corev1.Pod
		want []corev1.EndpointSubset
	}{
		{"no pods", service(byNumber), nil, nil},
		{"ready pods sorted by IP", service(byNumber),
			[]*corev1.Pod{pod("b", "10.1.0.2"), pod("c", "10.1.0.10"), pod("a", "10.1.0.1")},
			[]corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{addr("a", "10.1.0.1"), addr("c", "10.1.0.10"), addr("b", "10.1.0.2")},
				Ports: []corev1.EndpointPort{ep("web", 8080)}}}},
		{"not ready pod", service(byNumber),
			[]*corev1.Pod{pod("a", "10.1.0.1"), pod("b", "10.1.0.2", notReady)},
			[]corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{addr("a", "10.1.0.1")},
				NotReadyAddresses: []corev1.EndpointAddress{addr("b", "10.1.0.2")}, Ports: []corev1.EndpointPort{ep("web", 8080)}}}},
		{"publishNotReadyAddresses", publish,
			[]*corev1.Pod{pod("b", "10.1.0.2", notReady), pod("c", "10.1.0.3", notReady, deleting)},
			[]corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{addr("b", "10.1.0.2"), addr("c", "10.1.0.3")},
				Ports: []corev1.EndpointPort{ep("web", 8080)}}}},
		{"without IP, terminal or deleting: left out", service(byNumber),
			[]*corev1.Pod{pod("a", ""), pod("b", "10.1.0.2", func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }),
				pod("c", "10.1.0.3", func(p *corev1.Pod) { p.Status.Phase = corev1.PodFailed }), pod("d", "10.1.0.4", deleting)},
			nil},
		{"named port resolved per pod", service(byName),
			[]*corev1.Pod{pod("a", "10.1.0.1"), pod("b", "10.1.0.2", httpPort(9000)), pod("c", "10.1.0.3"), pod("d", "10.1.0.4", noPorts)},
			[]corev1.EndpointSubset{
				{Addresses: []corev1.EndpointAddress{addr("a", "10.1.0.1"), addr("c", "10.1.0.3")}, Ports: []corev1.EndpointPort{ep("web", 8080)}},
				{Addresses: []corev1.EndpointAddress{addr("b", "10.1.0.2")}, Ports: []corev1.EndpointPort{ep("web", 9000)}},
			}},
		{"addresses grouped by port set", service(byName, metrics),
			[]*corev1.Pod{pod("a", "10.1.0.1"), pod("d", "10.1.0.4", noPorts)},
			[]corev1.EndpointSubset{
				{Addresses: []corev1.EndpointAddress{addr("d", "10.1.0.4")}, Ports: []corev1.EndpointPort{ep("metrics", 9090)}},
				{Addresses: []corev1.EndpointAddress{addr("a", "10.1.0.1")}, Ports: []corev1.EndpointPort{ep("metrics", 9090), ep("web", 8080)}},
			}},
		{"hostname when subdomain is the service", service(byNumber),
			[]*corev1.Pod{pod("a", "10.1.0.1", hostnamed)},
			[]corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{withHost}, Ports: []corev1.EndpointPort{ep("web", 8080)}}}},
		{"headless without ports", headless,
			[]*corev1.Pod{pod("a", "10.1.0.1")},
			[]corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{addr("a", "10.1.0.1")}}}},
		{"cluster IP without ports", service(), []*corev1.Pod{pod("a", "10.1.0.1")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Subsets(tt.svc, tt.pods)
			if !apiequality.Semantic.DeepEqual(got, tt.want) {
				t.Errorf("Subsets:\n got %+v\nwant %+v", got, tt.want)
			}
			// The same pods in another order give the same subsets.
			rev := make([]*corev1.Pod, len(tt.pods))
			for i, p := range tt.pods {
				rev[len(rev)-1-i] = p
			}
			if again := Subsets(tt.svc, rev); !apiequality.Semantic.DeepEqual(again, got) {
				t.Errorf("Subsets depends on pod order:\n %+v\n %+v", got, again)
			}
		})
	}
}

func TestTriggerTimes(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	svc := service()
	svc.CreationTimestamp = metav1.NewTime(t0)
	readyAt := func(at time.Time) podOpt {
		return func(p *corev1.Pod) { p.Status.Conditions[0].LastTransitionTime = metav1.NewTime(at) }
	}
	var tr triggerTimes
	step := func(what string, want time.Time, commit bool, pods ...*corev1.Pod) {
		t.Helper()
		got, seen := tr.compute("ns/web", svc, pods)
		if !got.Equal(want) {
			t.Errorf("%s: %v, want %v", what, got, want)
		}
		if commit {
			tr.commit("ns/web", seen)
		}
	}
	a := pod("a", "10.1.0.1", readyAt(t0.Add(2*time.Second)))
	step("new service", t0, true, a)
	step("nothing changed", time.Time{}, true, a)
	b := pod("b", "10.1.0.2", readyAt(t0.Add(5*time.Second)))
	a2 := pod("a", "10.1.0.1", readyAt(t0.Add(7*time.Second)))
	step("two pods changed", t0.Add(5*time.Second), false, a2, b)
	step("after a failed write", t0.Add(5*time.Second), true, a2, b)
	step("after a write", time.Time{}, true, a2, b)
	tr.forget("ns/web")
	step("forgotten", t0, true, a2, b)
}

func TestTruncate(t *testing.T) {
	subset := func(ready, notReady int) corev1.EndpointSubset {
		s := corev1.EndpointSubset{Ports: []corev1.EndpointPort{{Port: 80}}}
		for i := 0; i < ready; i++ {
			s.Addresses = append(s.Addresses, corev1.EndpointAddress{IP: fmt.Sprintf("10.0.0.%d", i)})
		}
		for i := 0; i < notReady; i++ {
			s.NotReadyAddresses = append(s.NotReadyAddresses, corev1.EndpointAddress{IP: fmt.Sprintf("10.1.0.%d", i)})
		}
		return s
	}
	type counts struct{ ready, notReady int }
	tests := []struct {
		name      string
		in        []corev1.EndpointSubset
		max       int
		want      []counts
		truncated bool
	}{
		{"under the limit", []corev1.EndpointSubset{subset(3, 2)}, 5, []counts{{3, 2}}, false},
		{"not-ready dropped first", []corev1.EndpointSubset{subset(3, 4)}, 5, []counts{{3, 2}}, true},
		{"ready over the limit: no not-ready left", []corev1.EndpointSubset{subset(8, 4)}, 5, []counts{{5, 0}}, true},
		{"shared in proportion", []corev1.EndpointSubset{subset(6, 0), subset(2, 0)}, 4, []counts{{3, 0}, {1, 0}}, true},
		{"rounding goes to subsets in order", []corev1.EndpointSubset{subset(1, 0), subset(1, 0), subset(1, 0)}, 2, []counts{{1, 0}, {1, 0}}, true},
		{"not-ready share of the room left", []corev1.EndpointSubset{subset(2, 3), subset(0, 3)}, 4, []counts{{2, 1}, {0, 1}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := fmt.Sprint(tt.in)
			out, truncated := Truncate(tt.in, tt.max)
			var got []counts
			for _, s := range out {
				got = append(got, counts{len(s.Addresses), len(s.NotReadyAddresses)})
			}
			if truncated != tt.truncated || fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("Truncate = %v truncated=%t, want %v truncated=%t", got, truncated, tt.want, tt.truncated)
			}
			if fmt.Sprint(tt.in) != before {
				t.Error("Truncate modified its input")
			}
		})
	}
}
