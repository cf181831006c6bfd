package validation

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// validService is a ClusterIP service as defaulting and allocation leave it.
func validService() *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080),
				Protocol: corev1.ProtocolTCP}},
			ClusterIP:             "10.96.0.10",
			ClusterIPs:            []string{"10.96.0.10"},
			IPFamilies:            []corev1.IPFamily{corev1.IPv4Protocol},
			IPFamilyPolicy:        ptr.To(corev1.IPFamilyPolicySingleStack),
			SessionAffinity:       corev1.ServiceAffinityNone,
			InternalTrafficPolicy: ptr.To(corev1.ServiceInternalTrafficPolicyCluster),
		},
	}
}

func externalNameService() *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "default"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com.",
			SessionAffinity: corev1.ServiceAffinityNone},
	}
}

func TestValidateService(t *testing.T) {
	p0 := "spec.ports[0]"
	tests := []struct {
		name string
		svc  func() *corev1.Service
		want []wantErr
	}{
		{"valid", validService, nil},
		{"name is a DNS-1035 label", func() *corev1.Service { s := validService(); s.Name = "1web"; return s }, errs(invalid("metadata.name"))},
		{"no ports", func() *corev1.Service { s := validService(); s.Spec.Ports = nil; return s }, errs(required("spec.ports"))},
		{"headless without ports", func() *corev1.Service {
			s := validService()
			s.Spec.Ports, s.Spec.ClusterIP, s.Spec.ClusterIPs = nil, "None", []string{"None"}
			return s
		}, nil},
		{"port zero", func() *corev1.Service { s := validService(); s.Spec.Ports[0].Port = 0; return s }, errs(invalid(p0 + ".port"))},
		{"unknown protocol", func() *corev1.Service { s := validService(); s.Spec.Ports[0].Protocol = "HTTP"; return s },
			errs(notSupported(p0 + ".protocol"))},
		{"targetPort name invalid", func() *corev1.Service {
			s := validService()
			s.Spec.Ports[0].TargetPort = intstr.FromString("web_http")
			return s
		}, errs(invalid(p0 + ".targetPort"))},
		{"targetPort number too big", func() *corev1.Service {
			s := validService()
			s.Spec.Ports[0].TargetPort = intstr.FromInt32(70000)
			return s
		}, errs(invalid(p0 + ".targetPort"))},
		{"unnamed ports", func() *corev1.Service {
			s := validService()
			s.Spec.Ports = []corev1.ServicePort{
				{Port: 80, TargetPort: intstr.FromInt32(80), Protocol: corev1.ProtocolTCP},
				{Port: 443, TargetPort: intstr.FromInt32(443), Protocol: corev1.ProtocolTCP}}
			return s
		}, errs(required("spec.ports[0].name"), required("spec.ports[1].name"))},
		{"duplicate port names", func() *corev1.Service {
			s := validService()
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "http", Port: 81, TargetPort: intstr.FromInt32(81), Protocol: corev1.ProtocolTCP})
			return s
		}, errs(duplicate("spec.ports[1].name"))},
		{"duplicate port and protocol", func() *corev1.Service {
			s := validService()
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "alt", Port: 80, TargetPort: intstr.FromInt32(81), Protocol: corev1.ProtocolTCP})
			return s
		}, errs(duplicate("spec.ports[1]"))},
		{"same port over UDP", func() *corev1.Service {
			s := validService()
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "dns", Port: 80, TargetPort: intstr.FromInt32(80), Protocol: corev1.ProtocolUDP})
			return s
		}, nil},
		{"unknown type", func() *corev1.Service { s := validService(); s.Spec.Type = "Ingress"; return s }, errs(notSupported("spec.type"))},
		{"nodePort on ClusterIP", func() *corev1.Service { s := validService(); s.Spec.Ports[0].NodePort = 30080; return s },
			errs(forbidden(p0 + ".nodePort"))},
		{"bad cluster IP", func() *corev1.Service {
			s := validService()
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.96.0.300", []string{"10.96.0.300"}
			return s
		}, errs(invalid("spec.clusterIPs[0]"))},
		{"clusterIPs out of step", func() *corev1.Service { s := validService(); s.Spec.ClusterIPs = []string{"10.96.0.11"}; return s },
			errs(invalid("spec.clusterIPs"))},
		{"cluster IP of the wrong family", func() *corev1.Service {
			s := validService()
			s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol}
			return s
		}, errs(invalid("spec.clusterIPs[0]"))},
		{"unknown session affinity", func() *corev1.Service { s := validService(); s.Spec.SessionAffinity = "Sticky"; return s },
			errs(notSupported("spec.sessionAffinity"))},
		{"ClientIP affinity timeout too long", func() *corev1.Service {
			s := validService()
			s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
			s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr.To[int32](100000)}}
			return s
		}, errs(invalid("spec.sessionAffinityConfig.clientIP.timeoutSeconds"))},
		{"bad selector", func() *corev1.Service {
			s := validService()
			s.Spec.Selector = map[string]string{"app": "a b"}
			return s
		},
			errs(invalid("spec.selector"))},
		{"internalTrafficPolicy missing", func() *corev1.Service { s := validService(); s.Spec.InternalTrafficPolicy = nil; return s },
			errs(required("spec.internalTrafficPolicy"))},
		{"externalTrafficPolicy on an internal service", func() *corev1.Service {
			s := validService()
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
			return s
		}, errs(invalid("spec.externalTrafficPolicy"))},
		{"NodePort", func() *corev1.Service {
			s := validService()
			s.Spec.Type = corev1.ServiceTypeNodePort
			s.Spec.Ports[0].NodePort = 30080
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
			return s
		}, nil},
		{"NodePort without externalTrafficPolicy", func() *corev1.Service {
			s := validService()
			s.Spec.Type = corev1.ServiceTypeNodePort
			return s
		}, errs(required("spec.externalTrafficPolicy"))},
		{"headless NodePort", func() *corev1.Service {
			s := validService()
			s.Spec.Type = corev1.ServiceTypeNodePort
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "None", []string{"None"}
			return s
		}, errs(invalid("spec.clusterIPs[0]"))},
		{"nodePort out of range", func() *corev1.Service {
			s := validService()
			s.Spec.Type = corev1.ServiceTypeNodePort
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
			s.Spec.Ports[0].NodePort = 70000
			return s
		}, errs(invalid(p0 + ".nodePort"))},
		{"LoadBalancer without allocateLoadBalancerNodePorts", func() *corev1.Service {
			s := validService()
			s.Spec.Type = corev1.ServiceTypeLoadBalancer
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
			return s
		}, errs(required("spec.allocateLoadBalancerNodePorts"))},
		{"loopback external IP", func() *corev1.Service {
			s := validService()
			s.Spec.ExternalIPs = []string{"127.0.0.1"}
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
			return s
		}, errs(invalid("spec.externalIPs[0]"))},
		{"ExternalName", externalNameService, nil},
		{"ExternalName without a name", func() *corev1.Service { s := externalNameService(); s.Spec.ExternalName = ""; return s },
			errs(required("spec.externalName"))},
		{"ExternalName not a DNS name", func() *corev1.Service { s := externalNameService(); s.Spec.ExternalName = "db_1.example.com"; return s },
			errs(invalid("spec.externalName"))},
		{"ExternalName with a cluster IP", func() *corev1.Service {
			s := externalNameService()
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.96.0.12", []string{"10.96.0.12"}
			return s
		}, errs(forbidden("spec.clusterIPs"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assertErrors(t, ValidateService(tc.svc()), tc.want)
		})
	}
}

func TestValidateServiceUpdate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(s, old *corev1.Service)
		want   []wantErr
	}{
		{"selector and ports change", func(s, _ *corev1.Service) {
			s.Spec.Selector = map[string]string{"app": "web2"}
			s.Spec.Ports[0].Port = 8080
		}, nil},
		{"cluster IP allocated", func(_, old *corev1.Service) { old.Spec.ClusterIP, old.Spec.ClusterIPs = "", nil }, nil},
		{"cluster IP changed", func(s, _ *corev1.Service) {
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.96.0.11", []string{"10.96.0.11"}
		}, errs(invalid("spec.clusterIPs[0]"))},
		{"cluster IP removed", func(s, _ *corev1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = "", nil },
			errs(invalid("spec.clusterIPs[0]"))},
		{"family changed", func(s, _ *corev1.Service) {
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "fd00::10", []string{"fd00::10"}
			s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol}
		}, errs(invalid("spec.clusterIPs[0]"), invalid("spec.ipFamilies[0]"))},
		{"ClusterIP to NodePort", func(s, _ *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeNodePort
			s.Spec.Ports[0].NodePort = 30080
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
		}, nil},
		{"ClusterIP to ExternalName", func(s, _ *corev1.Service) {
			*s = *externalNameService()
			s.ResourceVersion = "3"
			s.Name = "web"
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			old := validService()
			old.ResourceVersion = "3"
			s := old.DeepCopy()
			tc.mutate(s, old)
			assertErrors(t, ValidateServiceUpdate(s, old), tc.want)
		})
	}
}
