package defaults

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Defaulting twice must equal defaulting once, for every kind: registries
// default on create and on every update.
func TestDefaultingIsIdempotent(t *testing.T) {
	pod := minimalPod()
	pod.Spec.HostNetwork = true
	pod.Spec.InitContainers = []corev1.Container{{Name: "setup", Image: "busybox:1.37",
		Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{"memory": resource.MustParse("64Mi")}}}}
	tests := []struct {
		name  string
		obj   runtime.Object
		apply func(runtime.Object)
	}{
		{"pod", pod, func(o runtime.Object) { Pod(o.(*corev1.Pod)) }},
		{"template", &corev1.PodTemplate{Template: corev1.PodTemplateSpec{Spec: minimalPod().Spec}},
			func(o runtime.Object) { PodTemplateSpec(&o.(*corev1.PodTemplate).Template) }},
		{"service", &corev1.Service{Spec: corev1.ServiceSpec{ClusterIP: "None",
			SessionAffinity: corev1.ServiceAffinityClientIP, Ports: []corev1.ServicePort{{Port: 53}}}},
			func(o runtime.Object) { Service(o.(*corev1.Service)) }},
		{"deployment", &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: minimalPod().Spec}}},
			func(o runtime.Object) { Deployment(o.(*appsv1.Deployment)) }},
		{"replicaset", &appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Template: corev1.PodTemplateSpec{Spec: minimalPod().Spec}}},
			func(o runtime.Object) { ReplicaSet(o.(*appsv1.ReplicaSet)) }},
		{"namespace", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a"}}, func(o runtime.Object) { Namespace(o.(*corev1.Namespace)) }},
		{"secret", &corev1.Secret{StringData: map[string]string{"a": "b"}}, func(o runtime.Object) { Secret(o.(*corev1.Secret)) }},
		{"node", &corev1.Node{Spec: corev1.NodeSpec{PodCIDR: "10.0.0.0/24"},
			Status: corev1.NodeStatus{Capacity: corev1.ResourceList{"cpu": resource.MustParse("2")}}},
			func(o runtime.Object) { Node(o.(*corev1.Node)) }},
		{"endpoints", &corev1.Endpoints{Subsets: []corev1.EndpointSubset{{Ports: []corev1.EndpointPort{{Port: 1}}}}},
			func(o runtime.Object) { Endpoints(o.(*corev1.Endpoints)) }},
		{"event", &corev1.Event{}, func(o runtime.Object) { Event(o.(*corev1.Event)) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			once := tc.obj.DeepCopyObject()
			tc.apply(once)
			twice := once.DeepCopyObject()
			tc.apply(twice)
			if !apiequality.Semantic.DeepEqual(once, twice) {
				t.Errorf("second defaulting changed the object:\nonce:  %+v\ntwice: %+v", once, twice)
			}
			if apiequality.Semantic.DeepEqual(once, tc.obj) && tc.name != "event" {
				t.Errorf("defaulting changed nothing; the test object is too complete to tell")
			}
		})
	}
}
