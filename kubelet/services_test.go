package kubelet

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func svc(ns, name, ip string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.ServiceSpec{ClusterIP: ip, Ports: ports}}
}

func envLines(vars []corev1.EnvVar) string {
	var b strings.Builder
	for _, v := range vars {
		fmt.Fprintf(&b, "%s=%s\n", v.Name, v.Value)
	}
	return b.String()
}

// The variables and their names are exactly Kubernetes' (envvars.FromServices
// and the kubelet's choice of services).
func TestServiceEnvVars(t *testing.T) {
	master := svc("default", "kubernetes", "10.0.0.1", corev1.ServicePort{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP})
	web := svc("ns", "my-web", "10.0.0.20",
		corev1.ServicePort{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP},
		corev1.ServicePort{Name: "dns-udp", Port: 53, Protocol: corev1.ProtocolUDP})
	unnamed := svc("ns", "db", "10.0.0.30", corev1.ServicePort{Port: 5432}) // protocol defaults to TCP
	headless := svc("ns", "headless", corev1.ClusterIPNone, corev1.ServicePort{Port: 80})
	external := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "ext"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com"}}
	elsewhere := svc("other", "cache", "10.0.0.40", corev1.ServicePort{Port: 6379})
	v6 := svc("ns", "v6", "fd00::10", corev1.ServicePort{Port: 8080, Name: "alt-http"})
	nsKubernetes := svc("ns", "kubernetes", "10.0.0.99", corev1.ServicePort{Port: 1})
	all := []*corev1.Service{web, elsewhere, headless, master, unnamed, external, v6}

	masterVars := `KUBERNETES_SERVICE_HOST=10.0.0.1
KUBERNETES_SERVICE_PORT=443
KUBERNETES_SERVICE_PORT_HTTPS=443
KUBERNETES_PORT=tcp://10.0.0.1:443
KUBERNETES_PORT_443_TCP=tcp://10.0.0.1:443
KUBERNETES_PORT_443_TCP_PROTO=tcp
KUBERNETES_PORT_443_TCP_PORT=443
KUBERNETES_PORT_443_TCP_ADDR=10.0.0.1
`
	nsVars := `DB_SERVICE_HOST=10.0.0.30
DB_SERVICE_PORT=5432
DB_PORT=tcp://10.0.0.30:5432
DB_PORT_5432_TCP=tcp://10.0.0.30:5432
DB_PORT_5432_TCP_PROTO=tcp
DB_PORT_5432_TCP_PORT=5432
DB_PORT_5432_TCP_ADDR=10.0.0.30
` + masterVars + `MY_WEB_SERVICE_HOST=10.0.0.20
MY_WEB_SERVICE_PORT=80
MY_WEB_SERVICE_PORT_HTTP=80
MY_WEB_SERVICE_PORT_DNS_UDP=53
MY_WEB_PORT=tcp://10.0.0.20:80
MY_WEB_PORT_80_TCP=tcp://10.0.0.20:80
MY_WEB_PORT_80_TCP_PROTO=tcp
MY_WEB_PORT_80_TCP_PORT=80
MY_WEB_PORT_80_TCP_ADDR=10.0.0.20
MY_WEB_PORT_53_UDP=udp://10.0.0.20:53
MY_WEB_PORT_53_UDP_PROTO=udp
MY_WEB_PORT_53_UDP_PORT=53
MY_WEB_PORT_53_UDP_ADDR=10.0.0.20
V6_SERVICE_HOST=fd00::10
V6_SERVICE_PORT=8080
V6_SERVICE_PORT_ALT_HTTP=8080
V6_PORT=tcp://[fd00::10]:8080
V6_PORT_8080_TCP=tcp://[fd00::10]:8080
V6_PORT_8080_TCP_PROTO=tcp
V6_PORT_8080_TCP_PORT=8080
V6_PORT_8080_TCP_ADDR=fd00::10
`
	for _, tc := range []struct {
		name      string
		services  []*corev1.Service
		namespace string
		links     bool
		want      string
	}{
		{"namespace's services and the master's; headless, ExternalName and other namespaces' skipped", all, "ns", true, nsVars},
		{"enableServiceLinks false: the master service only", all, "ns", false, masterVars},
		{"no master service, links off: nothing", []*corev1.Service{web}, "ns", false, ""},
		{"a namespace without services", all, "empty", true, masterVars},
		{"default namespace's own services", []*corev1.Service{master, svc("default", "a", "10.0.0.5", corev1.ServicePort{Port: 9})}, "default", true,
			"A_SERVICE_HOST=10.0.0.5\nA_SERVICE_PORT=9\nA_PORT=tcp://10.0.0.5:9\nA_PORT_9_TCP=tcp://10.0.0.5:9\nA_PORT_9_TCP_PROTO=tcp\nA_PORT_9_TCP_PORT=9\nA_PORT_9_TCP_ADDR=10.0.0.5\n" + masterVars},
		{"the master service wins over a namespace's kubernetes service (either order)", []*corev1.Service{nsKubernetes, master}, "ns", true, masterVars},
		{"the master service wins, other order", []*corev1.Service{master, nsKubernetes}, "ns", true, masterVars},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := envLines(serviceEnvVars(tc.services, tc.namespace, tc.links)); got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

// Service variables come after the container's own; a variable the
// container defines (env or envFrom) wins; env values can refer to service
// variables.
func TestContainerEnvWithServices(t *testing.T) {
	services := serviceEnvVars([]*corev1.Service{svc("ns", "web", "10.0.0.20", corev1.ServicePort{Port: 80})}, "ns", true)
	c := corev1.Container{
		Name: "main",
		Env: []corev1.EnvVar{
			{Name: "WEB_SERVICE_PORT", Value: "8080"},
			{Name: "URL", Value: "http://$(WEB_SERVICE_HOST):$(WEB_SERVICE_PORT)/"},
		},
		EnvFrom: []corev1.EnvFromSource{{Prefix: "WEB_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
	}
	got, err := containerEnv(context.Background(), envTestObjects(), envTestPod(c), &c, podFacts{}, services)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"WEB_A=a", "WEB_B=b", "WEB_MODE=fast",
		"WEB_SERVICE_PORT=8080",
		"URL=http://10.0.0.20:8080/",
		"WEB_SERVICE_HOST=10.0.0.20",
		"WEB_PORT=tcp://10.0.0.20:80",
		"WEB_PORT_80_TCP=tcp://10.0.0.20:80",
		"WEB_PORT_80_TCP_PROTO=tcp",
		"WEB_PORT_80_TCP_PORT=80",
		"WEB_PORT_80_TCP_ADDR=10.0.0.20",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("env:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
