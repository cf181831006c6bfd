package endpoints

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Subsets computes the subsets of svc's Endpoints from pods, the pods its
// selector matches in its namespace, as Kubernetes' endpoints controller
// does: a pod counts when it has an IP and is not terminal (nor, unless
// svc publishes not-ready addresses, being deleted); it is a ready address
// when its Ready condition is True or svc publishes not-ready addresses, a
// not-ready one otherwise. Each service port's targetPort is resolved per
// pod (a named one in the pod's container ports; a pod without it is left
// out for that port), and the result is repacked: addresses with the same
// set of ports share a subset. The output is sorted, so the same inputs
// always give the same subsets.
func Subsets(svc *corev1.Service, pods []*corev1.Pod) []corev1.EndpointSubset {
	publish := svc.Spec.PublishNotReadyAddresses
	var b builder
	for _, pod := range pods {
		if !inEndpoints(pod, publish) {
			continue
		}
		addr := address(svc, pod)
		ready := publish || podReady(pod)
		if len(svc.Spec.Ports) == 0 {
			// Only a headless service has addresses without ports.
			if svc.Spec.ClusterIP == corev1.ClusterIPNone {
				b.add(addr, ready, nil)
			}
			continue
		}
		for _, sp := range svc.Spec.Ports {
			n, ok := FindPort(pod, sp)
			if !ok {
				continue
			}
			ep := &corev1.EndpointPort{Name: sp.Name, Port: n, Protocol: sp.Protocol}
			if sp.AppProtocol != nil {
				app := *sp.AppProtocol // not shared with the informer's service
				ep.AppProtocol = &app
			}
			b.add(addr, ready, ep)
		}
	}
	return b.subsets()
}

// inEndpoints reports whether pod has an address to list at all.
func inEndpoints(pod *corev1.Pod, publishNotReady bool) bool {
	if pod.Status.PodIP == "" && len(pod.Status.PodIPs) == 0 {
		return false
	}
	if !publishNotReady && pod.DeletionTimestamp != nil {
		return false
	}
	return pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// address is pod's entry in svc's Endpoints. The hostname is set only when
// the pod asked to be known by it under this service (subdomain).
func address(svc *corev1.Service, pod *corev1.Pod) corev1.EndpointAddress {
	ip := pod.Status.PodIP
	if ip == "" {
		ip = pod.Status.PodIPs[0].IP
	}
	a := corev1.EndpointAddress{
		IP: ip,
		TargetRef: &corev1.ObjectReference{
			Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID,
		},
	}
	if pod.Spec.NodeName != "" {
		node := pod.Spec.NodeName
		a.NodeName = &node
	}
	if pod.Spec.Hostname != "" && pod.Spec.Subdomain == svc.Name && pod.Namespace == svc.Namespace {
		a.Hostname = pod.Spec.Hostname
	}
	return a
}

// FindPort resolves sp's targetPort for pod: a number as is, a name to the
// containerPort of that name and sp's protocol among pod's containers
// (and sidecar init containers). ok is false when pod has no such port.
func FindPort(pod *corev1.Pod, sp corev1.ServicePort) (port int32, ok bool) {
	tp := sp.TargetPort
	switch {
	case tp.Type == intstr.Int && tp.IntVal != 0:
		return tp.IntVal, true
	case tp.Type == intstr.Int || tp.StrVal == "":
		return sp.Port, true // unset: the defaulted targetPort is the port
	}
	proto := sp.Protocol
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	find := func(cs []corev1.Container) (int32, bool) {
		for _, c := range cs {
			for _, p := range c.Ports {
				pp := p.Protocol
				if pp == "" {
					pp = corev1.ProtocolTCP
				}
				if p.Name == tp.StrVal && pp == proto {
					return p.ContainerPort, true
				}
			}
		}
		return 0, false
	}
	if n, ok := find(pod.Spec.Containers); ok {
		return n, true
	}
	var sidecars []corev1.Container
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars = append(sidecars, c)
		}
	}
	return find(sidecars)
}

// builder collects (address, port) pairs and repacks them: each address
// goes into the subset of exactly the ports it serves.
type builder struct {
	addrs map[string]*entry // by address key
	order []string
}

type entry struct {
	addr  corev1.EndpointAddress
	ready bool
	ports map[string]corev1.EndpointPort // by portKey
}

func (b *builder) add(a corev1.EndpointAddress, ready bool, p *corev1.EndpointPort) {
	if b.addrs == nil {
		b.addrs = map[string]*entry{}
	}
	k := addrKey(a, ready)
	e := b.addrs[k]
	if e == nil {
		e = &entry{addr: a, ready: ready, ports: map[string]corev1.EndpointPort{}}
		b.addrs[k] = e
		b.order = append(b.order, k)
	}
	if p != nil {
		e.ports[portKey(*p)] = *p
	}
}

func (b *builder) subsets() []corev1.EndpointSubset {
	bySet := map[string]*corev1.EndpointSubset{}
	var keys []string
	for _, k := range b.order {
		e := b.addrs[k]
		pks := make([]string, 0, len(e.ports))
		for pk := range e.ports {
			pks = append(pks, pk)
		}
		sort.Strings(pks)
		setKey := strings.Join(pks, "\x00")
		s := bySet[setKey]
		if s == nil {
			s = &corev1.EndpointSubset{}
			for _, pk := range pks {
				s.Ports = append(s.Ports, e.ports[pk])
			}
			bySet[setKey] = s
			keys = append(keys, setKey)
		}
		if e.ready {
			s.Addresses = append(s.Addresses, e.addr)
		} else {
			s.NotReadyAddresses = append(s.NotReadyAddresses, e.addr)
		}
	}
	sort.Strings(keys)
	out := make([]corev1.EndpointSubset, 0, len(keys))
	for _, k := range keys {
		s := bySet[k]
		sortAddresses(s.Addresses)
		sortAddresses(s.NotReadyAddresses)
		out = append(out, *s)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// sortAddresses orders by IP, then pod UID, as Kubernetes does.
func sortAddresses(a []corev1.EndpointAddress) {
	sort.Slice(a, func(i, j int) bool {
		if a[i].IP != a[j].IP {
			return a[i].IP < a[j].IP
		}
		return uid(a[i]) < uid(a[j])
	})
}

func uid(a corev1.EndpointAddress) string {
	if a.TargetRef == nil {
		return ""
	}
	return string(a.TargetRef.UID)
}

func addrKey(a corev1.EndpointAddress, ready bool) string {
	return fmt.Sprintf("%s\x00%s\x00%t", a.IP, uid(a), ready)
}

// portKey orders ports by name, then number and protocol; two ports with
// the same key are the same port.
func portKey(p corev1.EndpointPort) string {
	app := ""
	if p.AppProtocol != nil {
		app = *p.AppProtocol
	}
	return fmt.Sprintf("%s\x01%05d\x01%s\x01%s", p.Name, p.Port, p.Protocol, app)
}

// MaxAddresses is how many addresses one Endpoints object holds; past it
// the controller truncates and annotates it, as Kubernetes does.
const MaxAddresses = 1000

// Truncate keeps at most max addresses of subsets: ready addresses first,
// then not-ready ones with what room is left, each kind shared among the
// subsets in proportion to what they hold. It reports whether anything was
// dropped; subsets is not modified.
func Truncate(subsets []corev1.EndpointSubset, max int) ([]corev1.EndpointSubset, bool) {
	ready, notReady := 0, 0
	for _, s := range subsets {
		ready += len(s.Addresses)
		notReady += len(s.NotReadyAddresses)
	}
	if ready+notReady <= max {
		return subsets, false
	}
	keepReady := min(ready, max)
	keepNotReady := min(notReady, max-keepReady)
	readyQuota := shares(subsets, keepReady, func(s corev1.EndpointSubset) int { return len(s.Addresses) })
	notReadyQuota := shares(subsets, keepNotReady, func(s corev1.EndpointSubset) int { return len(s.NotReadyAddresses) })
	out := make([]corev1.EndpointSubset, 0, len(subsets))
	for i, s := range subsets {
		s.Addresses = s.Addresses[:readyQuota[i]:readyQuota[i]]
		s.NotReadyAddresses = s.NotReadyAddresses[:notReadyQuota[i]:notReadyQuota[i]]
		if len(s.Addresses)+len(s.NotReadyAddresses) > 0 {
			out = append(out, s)
		}
	}
	return out, true
}

// shares splits keep among subsets in proportion to count(subset): each
// gets the floor of its share, and what rounding leaves goes one by one
// to the subsets in order that still have more.
func shares(subsets []corev1.EndpointSubset, keep int, count func(corev1.EndpointSubset) int) []int {
	total := 0
	for _, s := range subsets {
		total += count(s)
	}
	q := make([]int, len(subsets))
	if total == 0 {
		return q
	}
	given := 0
	for i, s := range subsets {
		q[i] = count(s) * keep / total
		given += q[i]
	}
	for i := 0; given < keep; i = (i + 1) % len(subsets) {
		if q[i] < count(subsets[i]) {
			q[i]++
			given++
		}
	}
	return q
}
