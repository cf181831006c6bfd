package printers

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

var servicePrinter = &Printer{
	Columns: []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "Type", Type: "string", Description: corev1.ServiceSpec{}.SwaggerDoc()["type"]},
		{Name: "Cluster-IP", Type: "string", Description: corev1.ServiceSpec{}.SwaggerDoc()["clusterIP"]},
		{Name: "External-IP", Type: "string", Description: corev1.ServiceSpec{}.SwaggerDoc()["externalIPs"]},
		{Name: "Port(s)", Type: "string", Description: corev1.ServiceSpec{}.SwaggerDoc()["ports"]},
		ageColumn(),
		{Name: "Selector", Type: "string", Priority: 1, Description: corev1.ServiceSpec{}.SwaggerDoc()["selector"]},
	},
	Row: typed(serviceRow),
}

func serviceRow(svc *corev1.Service, now time.Time) []any {
	return []any{
		svc.Name,
		string(svc.Spec.Type),
		clusterIP(svc),
		externalIP(svc),
		servicePorts(svc.Spec.Ports),
		age(svc.CreationTimestamp, now),
		labels.FormatLabels(svc.Spec.Selector),
	}
}

// clusterIP is the service's primary cluster IP ("None" for a headless
// service), or "<none>". kube prints clusterIPs[0]; kube-apiserver fills
// clusterIPs from clusterIP when it reads an object stored without it, so
// fall back to that.
func clusterIP(svc *corev1.Service) string {
	switch {
	case len(svc.Spec.ClusterIPs) > 0:
		return svc.Spec.ClusterIPs[0]
	case svc.Spec.ClusterIP != "":
		return svc.Spec.ClusterIP
	}
	return "<none>"
}

// externalIP is the External-IP cell: the external IPs for ClusterIP and
// NodePort services, the load balancer's addresses (sorted, deduplicated)
// and then the external IPs for LoadBalancer services, "<pending>" while a
// load balancer has none, and the DNS name for ExternalName services. The
// server renders the wide form, so long load balancer lists are not cut.
func externalIP(svc *corev1.Service) string {
	switch svc.Spec.Type {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort:
		if len(svc.Spec.ExternalIPs) == 0 {
			return "<none>"
		}
		return strings.Join(svc.Spec.ExternalIPs, ",")
	case corev1.ServiceTypeLoadBalancer:
		ips := loadBalancerAddresses(svc.Status.LoadBalancer)
		ips = append(ips, svc.Spec.ExternalIPs...)
		if len(ips) == 0 {
			return "<pending>"
		}
		return strings.Join(ips, ",")
	case corev1.ServiceTypeExternalName:
		return svc.Spec.ExternalName
	}
	return "<unknown>"
}

// loadBalancerAddresses lists each ingress point's IP, or its hostname when
// it has no IP, sorted and without duplicates.
func loadBalancerAddresses(lb corev1.LoadBalancerStatus) []string {
	seen := make(map[string]bool)
	var addrs []string
	for _, in := range lb.Ingress {
		a := in.IP
		if a == "" {
			a = in.Hostname
		}
		if a != "" && !seen[a] {
			seen[a] = true
			addrs = append(addrs, a)
		}
	}
	sort.Strings(addrs)
	return addrs
}

// servicePorts renders ports as "80/TCP", or "80:30080/TCP" with a node
// port, comma-separated; "<none>" without ports.
func servicePorts(ports []corev1.ServicePort) string {
	if len(ports) == 0 {
		return "<none>"
	}
	parts := make([]string, len(ports))
	for i, p := range ports {
		if p.NodePort > 0 {
			parts[i] = fmt.Sprintf("%d:%d/%s", p.Port, p.NodePort, p.Protocol)
		} else {
			parts[i] = fmt.Sprintf("%d/%s", p.Port, p.Protocol)
		}
	}
	return strings.Join(parts, ",")
}

var endpointsPrinter = &Printer{
	Columns: []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "Endpoints", Type: "string", Description: corev1.Endpoints{}.SwaggerDoc()["subsets"]},
		ageColumn(),
	},
	Row: typed(func(ep *corev1.Endpoints, now time.Time) []any {
		return []any{ep.Name, formatEndpoints(ep), age(ep.CreationTimestamp, now)}
	}),
}

// maxEndpoints is how many endpoints the Endpoints cell lists before
// summarizing the rest as "+ N more...".
const maxEndpoints = 3

// formatEndpoints renders the first few endpoints as "ip:port" (just "ip"
// in a subset without ports), one per address and port, followed by
// " + N more..." when there are more. An Endpoints without subsets is
// "<none>"; one whose subsets have no addresses is empty.
func formatEndpoints(ep *corev1.Endpoints) string {
	if len(ep.Subsets) == 0 {
		return "<none>"
	}
	var shown []string
	total := 0
	add := func(s string) {
		total++
		if len(shown) < maxEndpoints {
			shown = append(shown, s)
		}
	}
	for _, ss := range ep.Subsets {
		if len(ss.Ports) == 0 {
			for _, a := range ss.Addresses {
				add(a.IP)
			}
			continue
		}
		for _, p := range ss.Ports {
			for _, a := range ss.Addresses {
				add(net.JoinHostPort(a.IP, strconv.Itoa(int(p.Port))))
			}
		}
	}
	s := strings.Join(shown, ",")
	if total > maxEndpoints {
		s += fmt.Sprintf(" + %d more...", total-maxEndpoints)
	}
	return s
}
