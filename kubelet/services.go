package kubelet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Every container gets Kubernetes' service-link variables: for each
// service of its namespace with a cluster IP (when the pod's
// enableServiceLinks is true, its default), and always for the master
// service, default/kubernetes. The kubelet follows all services with one
// informer (every container start needs them; a list per start would be
// a round trip to etcd for each), as Kubernetes' kubelet keeps a service
// lister.

// masterService is the service whose variables every container gets,
// whatever enableServiceLinks says (in-cluster clients find the apiserver
// through KUBERNETES_SERVICE_HOST and _PORT).
const masterService = "kubernetes"

// servicesSyncWait bounds how long a container start waits for the
// service informer's first list (it normally has it within milliseconds
// of the kubelet starting).
const servicesSyncWait = 5 * time.Second

// errServicesNotSynced is Kubernetes' error for a container start before
// the services were read once: the container's variables would be
// incomplete (KUBERNETES_SERVICE_HOST missing, say), so it is not started
// (CreateContainerConfigError) and is retried.
var errServicesNotSynced = errors.New("services have not yet been read at least once, cannot construct envvars")

// serviceEnv is the service-link variables of a container of pod, from
// the kubelet's view of the services.
func (k *Kubelet) serviceEnv(ctx context.Context, pod *corev1.Pod) ([]corev1.EnvVar, error) {
	wctx, cancel := context.WithTimeout(ctx, servicesSyncWait)
	defer cancel()
	if err := k.services.WaitSynced(wctx); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &configError{msg: errServicesNotSynced.Error(), err: errServicesNotSynced}
	}
	objs := k.services.List()
	services := make([]*corev1.Service, 0, len(objs))
	for _, o := range objs {
		if s, ok := o.(*corev1.Service); ok {
			services = append(services, s)
		}
	}
	links := pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks
	return serviceEnvVars(services, pod.Namespace, links), nil
}

// serviceEnvVars is Kubernetes' service-link variables for a container in
// namespace: those of every service there with a cluster IP when links is
// set, and those of default/kubernetes always (it wins over a service of
// the same name in namespace). Headless services (clusterIP None) and
// those without a cluster IP (ExternalName) give none. Services come in
// name order, each with its variables in Kubernetes' order:
//
//	<NAME>_SERVICE_HOST=<cluster IP>
//	<NAME>_SERVICE_PORT=<first port>
//	<NAME>_SERVICE_PORT_<PORT NAME>=<port>       per named port
//	<NAME>_PORT=<proto>://<ip>:<first port>      Docker links, first port
//	<NAME>_PORT_<port>_<PROTO>=<proto>://<ip>:<port>   per port, with
//	  _PROTO=<proto>, _PORT=<port>, _ADDR=<ip>
//
// where a name is upper-cased with '-' as '_', and a protocol defaults to
// TCP.
func serviceEnvVars(services []*corev1.Service, namespace string, links bool) []corev1.EnvVar {
	chosen := map[string]*corev1.Service{}
	for _, s := range services {
		if !hasClusterIP(s) {
			continue
		}
		switch {
		case s.Namespace == metav1.NamespaceDefault && s.Name == masterService:
			chosen[s.Name] = s
		case s.Namespace == namespace && links:
			if _, taken := chosen[s.Name]; taken && s.Name == masterService {
				continue // only the master service can have taken it
			}
			chosen[s.Name] = s
		}
	}
	names := make([]string, 0, len(chosen))
	for n := range chosen {
		names = append(names, n)
	}
	slices.Sort(names)
	var out []corev1.EnvVar
	for _, n := range names {
		out = append(out, serviceVars(chosen[n])...)
	}
	return out
}

// hasClusterIP is Kubernetes' IsServiceIPSet.
func hasClusterIP(s *corev1.Service) bool {
	return s.Spec.ClusterIP != "" && s.Spec.ClusterIP != corev1.ClusterIPNone && len(s.Spec.Ports) > 0
}

func serviceVars(s *corev1.Service) []corev1.EnvVar {
	prefix := envVarName(s.Name)
	ip := s.Spec.ClusterIP
	out := []corev1.EnvVar{
		{Name: prefix + "_SERVICE_HOST", Value: ip},
		{Name: prefix + "_SERVICE_PORT", Value: strconv.Itoa(int(s.Spec.Ports[0].Port))},
	}
	for _, p := range s.Spec.Ports {
		if p.Name != "" {
			out = append(out, corev1.EnvVar{Name: prefix + "_SERVICE_PORT_" + envVarName(p.Name), Value: strconv.Itoa(int(p.Port))})
		}
	}
	for i, p := range s.Spec.Ports {
		proto := string(p.Protocol)
		if proto == "" {
			proto = string(corev1.ProtocolTCP)
		}
		port := strconv.Itoa(int(p.Port))
		url := strings.ToLower(proto) + "://" + net.JoinHostPort(ip, port)
		if i == 0 {
			out = append(out, corev1.EnvVar{Name: prefix + "_PORT", Value: url})
		}
		pp := fmt.Sprintf("%s_PORT_%d_%s", prefix, p.Port, strings.ToUpper(proto))
		out = append(out,
			corev1.EnvVar{Name: pp, Value: url},
			corev1.EnvVar{Name: pp + "_PROTO", Value: strings.ToLower(proto)},
			corev1.EnvVar{Name: pp + "_PORT", Value: port},
			corev1.EnvVar{Name: pp + "_ADDR", Value: ip},
		)
	}
	return out
}

// envVarName is a service or port name as a variable name.
func envVarName(s string) string {
	return strings.ToUpper(strings.ReplaceAll(s, "-", "_"))
}
