package defaults

import (
	corev1 "k8s.io/api/core/v1"
)

// Probe defaults, as kube-apiserver applies them.
const (
	probeTimeoutSeconds   = 1
	probePeriodSeconds    = 10
	probeSuccessThreshold = 1
	probeFailureThreshold = 3
)

// milliScale: quantities are rounded up to milli-units so that every
// component computes with the same value.
const milliScale = -3

func container(c *corev1.Container) {
	if c.ImagePullPolicy == "" {
		c.ImagePullPolicy = pullPolicyFor(c.Image)
	}
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = corev1.TerminationMessagePathDefault
	}
	if c.TerminationMessagePolicy == "" {
		c.TerminationMessagePolicy = corev1.TerminationMessageReadFile
	}
	for i := range c.Ports {
		if c.Ports[i].Protocol == "" {
			c.Ports[i].Protocol = corev1.ProtocolTCP
		}
	}
	for i := range c.Env {
		if vf := c.Env[i].ValueFrom; vf != nil && vf.FieldRef != nil {
			objectFieldSelector(vf.FieldRef)
		}
	}
	roundUpResources(c.Resources.Limits)
	roundUpResources(c.Resources.Requests)
	probe(c.LivenessProbe)
	probe(c.ReadinessProbe)
	probe(c.StartupProbe)
	if lc := c.Lifecycle; lc != nil {
		if lc.PostStart != nil {
			httpGetAction(lc.PostStart.HTTPGet)
		}
		if lc.PreStop != nil {
			httpGetAction(lc.PreStop.HTTPGet)
		}
	}
}

func probe(p *corev1.Probe) {
	if p == nil {
		return
	}
	if p.TimeoutSeconds == 0 {
		p.TimeoutSeconds = probeTimeoutSeconds
	}
	if p.PeriodSeconds == 0 {
		p.PeriodSeconds = probePeriodSeconds
	}
	if p.SuccessThreshold == 0 {
		p.SuccessThreshold = probeSuccessThreshold
	}
	if p.FailureThreshold == 0 {
		p.FailureThreshold = probeFailureThreshold
	}
	httpGetAction(p.HTTPGet)
}

func httpGetAction(h *corev1.HTTPGetAction) {
	if h == nil {
		return
	}
	if h.Path == "" {
		h.Path = "/"
	}
	if h.Scheme == "" {
		h.Scheme = corev1.URISchemeHTTP
	}
}

func objectFieldSelector(fs *corev1.ObjectFieldSelector) {
	if fs.APIVersion == "" {
		fs.APIVersion = "v1"
	}
}

// roundUpResources rounds quantities finer than a milli-unit up to one
// (0.0001 CPU becomes 1m).
func roundUpResources(list corev1.ResourceList) {
	for name, q := range list {
		q.RoundUp(milliScale)
		list[name] = q
	}
}
