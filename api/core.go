package api

import (
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/shepherd-lab/shepherd/api/defaults"
	"github.com/shepherd-lab/shepherd/api/validation"
	"github.com/shepherd-lab/shepherd/storage"
)

var core = corev1.SchemeGroupVersion

// NodeIndex is the name of the pods' per-node index: the pods bound to node
// N are mirrored under /registry/pods-by-node/N/, so a kubelet watches only
// its own.
const NodeIndex = "node"

// Pods are core/v1 pods.
var Pods = define(Resource{
	GroupVersion: core, Kind: "Pod", ListKind: "PodList", Plural: "pods", Singular: "pod",
	ShortNames: []string{"po"}, Categories: []string{"all"}, Namespaced: true, HasStatus: true,
	Storage: &storage.Resource{Indexes: []storage.Index{{
		Name:  NodeIndex,
		Value: func(o runtime.Object) string { return o.(*corev1.Pod).Spec.NodeName },
	}}},
}, Strategy[*corev1.Pod]{
	Default: defaults.Pod,
	PrepareForCreate: func(p *corev1.Pod) {
		p.Status = corev1.PodStatus{Phase: corev1.PodPending, QOSClass: defaults.QOSClass(&p.Spec)}
		positiveGracePeriod(&p.Spec)
	},
	PrepareForUpdate:     func(p, _ *corev1.Pod) { positiveGracePeriod(&p.Spec) },
	Validate:             validation.ValidatePod,
	ValidateUpdate:       validation.ValidatePodUpdate,
	ValidateStatusUpdate: validation.ValidatePodStatusUpdate,
	Spec:                 func(p *corev1.Pod) any { return &p.Spec },
	Fields: func(p *corev1.Pod) fields.Set {
		return fields.Set{
			"spec.nodeName":            p.Spec.NodeName,
			"spec.restartPolicy":       string(p.Spec.RestartPolicy),
			"spec.schedulerName":       p.Spec.SchedulerName,
			"spec.serviceAccountName":  p.Spec.ServiceAccountName,
			"spec.hostNetwork":         strconv.FormatBool(p.Spec.HostNetwork),
			"status.phase":             string(p.Status.Phase),
			"status.podIP":             p.Status.PodIP,
			"status.nominatedNodeName": p.Status.NominatedNodeName,
		}
	},
})

// Nodes are core/v1 nodes.
var Nodes = define(Resource{
	GroupVersion: core, Kind: "Node", ListKind: "NodeList", Plural: "nodes", Singular: "node",
	ShortNames: []string{"no"}, HasStatus: true,
}, Strategy[*corev1.Node]{
	// A node registers with its status: nothing is reset on create.
	Default:        defaults.Node,
	Validate:       validation.ValidateNode,
	ValidateUpdate: validation.ValidateNodeUpdate,
	Fields: func(n *corev1.Node) fields.Set {
		return fields.Set{"spec.unschedulable": strconv.FormatBool(n.Spec.Unschedulable)}
	},
})

// Namespaces are core/v1 namespaces.
var Namespaces = define(Resource{
	GroupVersion: core, Kind: "Namespace", ListKind: "NamespaceList", Plural: "namespaces", Singular: "namespace",
	ShortNames: []string{"ns"}, HasStatus: true, StatusWritesMetadata: true, HasFinalize: true,
}, Strategy[*corev1.Namespace]{
	Default: defaults.Namespace,
	PrepareForCreate: func(ns *corev1.Namespace) {
		ns.Status = corev1.NamespaceStatus{Phase: corev1.NamespaceActive}
		// The namespace controller's finalizer: it empties the namespace
		// before it goes.
		if !slices.Contains(ns.Spec.Finalizers, corev1.FinalizerKubernetes) {
			ns.Spec.Finalizers = append(ns.Spec.Finalizers, corev1.FinalizerKubernetes)
		}
	},
	PrepareForUpdate: func(ns, old *corev1.Namespace) {
		// spec.finalizers change only through the finalize subresource.
		ns.Spec.Finalizers = old.Spec.Finalizers
	},
	Validate:       validation.ValidateNamespace,
	ValidateUpdate: validation.ValidateNamespaceUpdate,
	Fields: func(ns *corev1.Namespace) fields.Set {
		return fields.Set{"status.phase": string(ns.Status.Phase)}
	},
})

// Services are core/v1 services. Each holds claims on its cluster IPs and
// node ports, so no two services share one.
var Services = define(Resource{
	GroupVersion: core, Kind: "Service", ListKind: "ServiceList", Plural: "services", Singular: "service",
	ShortNames: []string{"svc"}, Categories: []string{"all"}, Namespaced: true, HasStatus: true,
}, Strategy[*corev1.Service]{
	Default:          defaults.Service,
	PrepareForCreate: func(s *corev1.Service) { s.Status = corev1.ServiceStatus{} },
	PrepareForUpdate: prepareServiceUpdate,
	Validate:         validation.ValidateService,
	ValidateUpdate:   validation.ValidateServiceUpdate,
	Fields: func(s *corev1.Service) fields.Set {
		return fields.Set{"spec.clusterIP": s.Spec.ClusterIP, "spec.type": string(s.Spec.Type)}
	},
	Claims: ServiceClaims,
})

// ServiceIPClaim and NodePortClaim name the storage claims a service holds.
func ServiceIPClaim(ip string) string { return "serviceips/" + ip }
func NodePortClaim(port int32) string { return "servicenodeports/" + strconv.Itoa(int(port)) }

// ServiceClaims returns the cluster IPs and node ports s holds.
func ServiceClaims(s *corev1.Service) []string {
	var claims []string
	ips := s.Spec.ClusterIPs
	if len(ips) == 0 && s.Spec.ClusterIP != "" {
		ips = []string{s.Spec.ClusterIP}
	}
	for _, ip := range ips {
		if ip != "" && ip != corev1.ClusterIPNone {
			claims = append(claims, ServiceIPClaim(ip))
		}
	}
	for _, p := range s.Spec.Ports {
		if p.NodePort != 0 {
			claims = append(claims, NodePortClaim(p.NodePort))
		}
	}
	return claims
}

// Endpoints are core/v1 endpoints.
var Endpoints = define(Resource{
	GroupVersion: core, Kind: "Endpoints", ListKind: "EndpointsList", Plural: "endpoints", Singular: "endpoints",
	ShortNames: []string{"ep"}, Namespaced: true, AllowCreateOnUpdate: true,
}, Strategy[*corev1.Endpoints]{
	Default:        defaults.Endpoints,
	Validate:       validation.ValidateEndpoints,
	ValidateUpdate: validation.ValidateEndpointsUpdate,
})

// Events are core/v1 events. The apiserver stores them with a TTL.
var Events = define(Resource{
	GroupVersion: core, Kind: "Event", ListKind: "EventList", Plural: "events", Singular: "event",
	ShortNames: []string{"ev"}, Namespaced: true, AllowCreateOnUpdate: true,
}, Strategy[*corev1.Event]{
	Default:  defaults.Event,
	Validate: validation.ValidateEvent,
	ValidateUpdate: func(e, _ *corev1.Event) field.ErrorList {
		return validation.ValidateEvent(e)
	},
	Fields: func(e *corev1.Event) fields.Set {
		return fields.Set{
			"involvedObject.kind":            e.InvolvedObject.Kind,
			"involvedObject.namespace":       e.InvolvedObject.Namespace,
			"involvedObject.name":            e.InvolvedObject.Name,
			"involvedObject.uid":             string(e.InvolvedObject.UID),
			"involvedObject.apiVersion":      e.InvolvedObject.APIVersion,
			"involvedObject.resourceVersion": e.InvolvedObject.ResourceVersion,
			"involvedObject.fieldPath":       e.InvolvedObject.FieldPath,
			"reason":                         e.Reason,
			"reportingComponent":             e.ReportingController,
			"source":                         e.Source.Component,
			"type":                           e.Type,
		}
	},
})

// ConfigMaps are core/v1 config maps.
var ConfigMaps = define(Resource{
	GroupVersion: core, Kind: "ConfigMap", ListKind: "ConfigMapList", Plural: "configmaps", Singular: "configmap",
	ShortNames: []string{"cm"}, Namespaced: true,
}, Strategy[*corev1.ConfigMap]{
	Validate:       validation.ValidateConfigMap,
	ValidateUpdate: validation.ValidateConfigMapUpdate,
})

// Secrets are core/v1 secrets.
var Secrets = define(Resource{
	GroupVersion: core, Kind: "Secret", ListKind: "SecretList", Plural: "secrets", Singular: "secret",
	Namespaced: true,
}, Strategy[*corev1.Secret]{
	Default:        defaults.Secret,
	Validate:       validation.ValidateSecret,
	ValidateUpdate: validation.ValidateSecretUpdate,
	Fields: func(s *corev1.Secret) fields.Set {
		return fields.Set{"type": string(s.Type)}
	},
})
