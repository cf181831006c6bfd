package validation

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/shepherd-lab/shepherd/api/defaults"
)

// Objects as users write them, once defaulted, must validate: this ties the
// "Required value" rules here to what package defaults fills in.
func TestDefaultedObjectsValidate(t *testing.T) {
	labels := map[string]string{"app": "web"}
	podSpec := func() corev1.PodSpec {
		return corev1.PodSpec{
			Containers: []corev1.Container{{
				Name: "web", Image: "nginx",
				Ports:          []corev1.ContainerPort{{Name: "http", ContainerPort: 80}},
				Env:            []corev1.EnvVar{{Name: "NODE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}}},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromString("http")}}},
				Resources:      corev1.ResourceRequirements{Limits: corev1.ResourceList{"memory": resource.MustParse("64Mi")}},
				VolumeMounts:   []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}},
			}},
			Volumes:     []corev1.Volume{{Name: "tmp"}},
			HostNetwork: true,
		}
	}

	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", Labels: labels}, Spec: podSpec()}
	defaults.Pod(pod)
	assertErrors(t, ValidatePod(pod), nil)

	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: podSpec()}},
	}
	defaults.Deployment(dep)
	assertErrors(t, ValidateDeployment(dep), nil)

	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "default"},
		Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: podSpec()}},
	}
	defaults.ReplicaSet(rs)
	assertErrors(t, ValidateReplicaSet(rs), nil)

	for _, spec := range []corev1.ServiceSpec{
		{Selector: labels, Ports: []corev1.ServicePort{{Port: 80}}},
		{Selector: labels, ClusterIP: "10.96.0.20", Ports: []corev1.ServicePort{{Name: "a", Port: 80}, {Name: "b", Port: 53, Protocol: corev1.ProtocolUDP}}},
		{Type: corev1.ServiceTypeNodePort, Selector: labels, Ports: []corev1.ServicePort{{Port: 80, NodePort: 30080}}},
		{Type: corev1.ServiceTypeLoadBalancer, Selector: labels, Ports: []corev1.ServicePort{{Port: 80}}},
		{ClusterIP: "None"},
		{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com"},
	} {
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"}, Spec: spec}
		defaults.Service(svc)
		assertErrors(t, ValidateService(svc), nil)
	}

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}
	defaults.Namespace(ns)
	assertErrors(t, ValidateNamespace(ns), nil)

	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: "default"},
		StringData: map[string]string{"password": "hunter2"}}
	defaults.Secret(secret)
	assertErrors(t, ValidateSecret(secret), nil)

	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}, Spec: corev1.NodeSpec{PodCIDR: "10.244.3.0/24"},
		Status: corev1.NodeStatus{Capacity: corev1.ResourceList{"cpu": resource.MustParse("2"), "pods": resource.MustParse("110")}}}
	defaults.Node(node)
	assertErrors(t, ValidateNode(node), nil)

	ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: "10.244.3.4"}}, Ports: []corev1.EndpointPort{{Port: 80}}}}}
	defaults.Endpoints(ep)
	assertErrors(t, ValidateEndpoints(ep), nil)
}
