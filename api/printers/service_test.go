package printers

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestServiceRow(t *testing.T) {
	tcp := func(port, nodePort int32) corev1.ServicePort {
		return corev1.ServicePort{Port: port, NodePort: nodePort, Protocol: corev1.ProtocolTCP}
	}
	tests := []struct {
		name string
		spec corev1.ServiceSpec
		lb   []corev1.LoadBalancerIngress
		want []any
	}{
		{
			name: "cluster IP",
			spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.96.0.20", ClusterIPs: []string{"10.96.0.20", "fd00:10:96::20"},
				Ports:    []corev1.ServicePort{tcp(80, 0), tcp(443, 0), {Port: 53, Protocol: corev1.ProtocolUDP}},
				Selector: map[string]string{"tier": "web", "app": "shop"},
			},
			want: []any{"web", "ClusterIP", "10.96.0.20", "<none>", "80/TCP,443/TCP,53/UDP", "10m", "app=shop,tier=web"},
		},
		{
			name: "cluster IP stored without clusterIPs",
			spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.96.0.21", Ports: []corev1.ServicePort{tcp(80, 0)}},
			want: []any{"web", "ClusterIP", "10.96.0.21", "<none>", "80/TCP", "10m", "<none>"},
		},
		{
			name: "headless without ports",
			spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "None", ClusterIPs: []string{"None"}},
			want: []any{"web", "ClusterIP", "None", "<none>", "<none>", "10m", "<none>"},
		},
		{
			name: "cluster IP with external IPs",
			spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeClusterIP, ClusterIPs: []string{"10.96.0.22"},
				ExternalIPs: []string{"198.51.100.7", "198.51.100.3"}, Ports: []corev1.ServicePort{tcp(80, 0)},
			},
			want: []any{"web", "ClusterIP", "10.96.0.22", "198.51.100.7,198.51.100.3", "80/TCP", "10m", "<none>"},
		},
		{
			name: "node port",
			spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeNodePort, ClusterIPs: []string{"10.96.0.23"},
				Ports: []corev1.ServicePort{tcp(80, 30080), tcp(443, 30443)}, Selector: map[string]string{"app": "web"},
			},
			want: []any{"web", "NodePort", "10.96.0.23", "<none>", "80:30080/TCP,443:30443/TCP", "10m", "app=web"},
		},
		{
			name: "load balancer pending",
			spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIPs: []string{"10.96.0.24"}, Ports: []corev1.ServicePort{tcp(80, 31000)}},
			want: []any{"web", "LoadBalancer", "10.96.0.24", "<pending>", "80:31000/TCP", "10m", "<none>"},
		},
		{
			name: "load balancer with ingress and external IPs",
			spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeLoadBalancer, ClusterIPs: []string{"10.96.0.25"},
				ExternalIPs: []string{"198.51.100.1"}, Ports: []corev1.ServicePort{tcp(443, 31443)},
			},
			// Sorted and deduplicated, an IP preferred to a hostname, and
			// not cut short: the server always renders the wide form.
			lb: []corev1.LoadBalancerIngress{
				{IP: "203.0.113.9"}, {Hostname: "lb.example.com"}, {IP: "203.0.113.2", Hostname: "ignored.example.com"}, {IP: "203.0.113.9"}, {},
			},
			want: []any{"web", "LoadBalancer", "10.96.0.25", "203.0.113.2,203.0.113.9,lb.example.com,198.51.100.1", "443:31443/TCP", "10m", "<none>"},
		},
		{
			name: "load balancer with external IPs only",
			spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIPs: []string{"10.96.0.26"}, ExternalIPs: []string{"198.51.100.2"}},
			want: []any{"web", "LoadBalancer", "10.96.0.26", "198.51.100.2", "<none>", "10m", "<none>"},
		},
		{
			name: "external name",
			spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com"},
			want: []any{"web", "ExternalName", "<none>", "db.example.com", "<none>", "10m", "<none>"},
		},
		{
			name: "no type",
			spec: corev1.ServiceSpec{ClusterIPs: []string{"10.96.0.27"}},
			want: []any{"web", "", "10.96.0.27", "<unknown>", "<none>", "10m", "<none>"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := &corev1.Service{ObjectMeta: objectMeta("web"), Spec: tt.spec}
			svc.Status.LoadBalancer.Ingress = tt.lb
			checkRow(t, rowOf(t, serviceGVK, svc), tt.want)
		})
	}
}

func TestEndpointsRow(t *testing.T) {
	addrs := func(ips ...string) []corev1.EndpointAddress {
		var as []corev1.EndpointAddress
		for _, ip := range ips {
			as = append(as, corev1.EndpointAddress{IP: ip})
		}
		return as
	}
	ports := func(ps ...int32) []corev1.EndpointPort {
		var eps []corev1.EndpointPort
		for _, p := range ps {
			eps = append(eps, corev1.EndpointPort{Port: p, Protocol: corev1.ProtocolTCP})
		}
		return eps
	}
	tests := []struct {
		name    string
		subsets []corev1.EndpointSubset
		want    string
	}{
		{"no subsets", nil, "<none>"},
		{"two addresses", []corev1.EndpointSubset{{Addresses: addrs("10.0.0.1", "10.0.0.2"), Ports: ports(80)}}, "10.0.0.1:80,10.0.0.2:80"},
		{"exactly three", []corev1.EndpointSubset{{Addresses: addrs("10.0.0.1", "10.0.0.2", "10.0.0.3"), Ports: ports(80)}},
			"10.0.0.1:80,10.0.0.2:80,10.0.0.3:80"},
		{"five addresses", []corev1.EndpointSubset{{Addresses: addrs("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"), Ports: ports(80)}},
			"10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 2 more..."},
		{"each address on each port", []corev1.EndpointSubset{{Addresses: addrs("10.0.0.1", "10.0.0.2"), Ports: ports(80, 443)}},
			"10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more..."},
		{"over several subsets", []corev1.EndpointSubset{
			{Addresses: addrs("10.0.0.1", "10.0.0.2"), Ports: ports(8080)},
			{Addresses: addrs("10.0.1.1", "10.0.1.2", "10.0.1.3"), Ports: ports(9090)},
		}, "10.0.0.1:8080,10.0.0.2:8080,10.0.1.1:9090 + 2 more..."},
		{"headless without ports", []corev1.EndpointSubset{{Addresses: addrs("10.0.0.1", "10.0.0.2")}}, "10.0.0.1,10.0.0.2"},
		{"IPv6", []corev1.EndpointSubset{{Addresses: addrs("fd00::1"), Ports: ports(8080)}}, "[fd00::1]:8080"},
		{"only not-ready addresses", []corev1.EndpointSubset{{NotReadyAddresses: addrs("10.0.0.9"), Ports: ports(80)}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep := &corev1.Endpoints{ObjectMeta: objectMeta("web"), Subsets: tt.subsets}
			checkRow(t, rowOf(t, endpointsGVK, ep), []any{"web", tt.want, "10m"})
		})
	}
}
