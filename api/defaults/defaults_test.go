package defaults

import (
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// minimalPod is what a user writes: a name, a container, an image.
func minimalPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name:  "nginx",
			Image: "nginx",
			Ports: []corev1.ContainerPort{{ContainerPort: 80}},
			Env: []corev1.EnvVar{{Name: "POD", ValueFrom: &corev1.EnvVarSource{
				FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
			LivenessProbe:  &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(80)}}},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(80)}}},
			Resources:      corev1.ResourceRequirements{Limits: corev1.ResourceList{"cpu": resource.MustParse("500m"), "memory": resource.MustParse("128Mi")}},
			VolumeMounts:   []corev1.VolumeMount{{Name: "scratch", MountPath: "/tmp"}},
		}},
			Volumes: []corev1.Volume{
				{Name: "scratch"},
				{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
				{Name: "creds", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "creds"}}},
			},
		},
	}
}

func TestPodDefaults(t *testing.T) {
	pod := minimalPod()
	Pod(pod)
	spec := pod.Spec
	c := spec.Containers[0]

	checks := []struct {
		name      string
		got, want any
	}{
		{"restartPolicy", spec.RestartPolicy, corev1.RestartPolicyAlways},
		{"terminationGracePeriodSeconds", spec.TerminationGracePeriodSeconds, ptr.To[int64](30)},
		{"dnsPolicy", spec.DNSPolicy, corev1.DNSClusterFirst},
		{"schedulerName", spec.SchedulerName, "default-scheduler"},
		{"securityContext", spec.SecurityContext, &corev1.PodSecurityContext{}},
		{"enableServiceLinks", spec.EnableServiceLinks, ptr.To(true)},
		// Admission's Priority plugin sets these, not defaulting.
		{"preemptionPolicy", spec.PreemptionPolicy, (*corev1.PreemptionPolicy)(nil)},
		{"priority", spec.Priority, (*int32)(nil)},
		{"imagePullPolicy", c.ImagePullPolicy, corev1.PullAlways},
		{"terminationMessagePath", c.TerminationMessagePath, "/dev/termination-log"},
		{"terminationMessagePolicy", c.TerminationMessagePolicy, corev1.TerminationMessageReadFile},
		{"port protocol", c.Ports[0].Protocol, corev1.ProtocolTCP},
		{"hostPort untouched off the host network", c.Ports[0].HostPort, int32(0)},
		{"fieldRef apiVersion", c.Env[0].ValueFrom.FieldRef.APIVersion, "v1"},
		{"liveness probe", *c.LivenessProbe, corev1.Probe{
			ProbeHandler:   corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(80), Scheme: corev1.URISchemeHTTP}},
			TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 3}},
		{"readiness probe timing", []int32{c.ReadinessProbe.TimeoutSeconds, c.ReadinessProbe.PeriodSeconds,
			c.ReadinessProbe.SuccessThreshold, c.ReadinessProbe.FailureThreshold}, []int32{1, 10, 1, 3}},
		{"requests default to limits", c.Resources.Requests, corev1.ResourceList{"cpu": resource.MustParse("500m"), "memory": resource.MustParse("128Mi")}},
		{"volume without source", spec.Volumes[0].VolumeSource, corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{"configMap defaultMode", spec.Volumes[1].ConfigMap.DefaultMode, ptr.To[int32](0644)},
		{"secret defaultMode", spec.Volumes[2].Secret.DefaultMode, ptr.To[int32](0644)},
		{"status.phase", pod.Status.Phase, corev1.PodPending},
		{"status.qosClass", pod.Status.QOSClass, corev1.PodQOSGuaranteed},
	}
	for _, ch := range checks {
		if !apiequality.Semantic.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %#v, want %#v", ch.name, ch.got, ch.want)
		}
	}
}

func TestPodKeepsUserValues(t *testing.T) {
	pod := minimalPod()
	spec := &pod.Spec
	spec.RestartPolicy = corev1.RestartPolicyNever
	spec.TerminationGracePeriodSeconds = ptr.To[int64](0)
	spec.DNSPolicy = corev1.DNSDefault
	spec.SchedulerName = "my-scheduler"
	spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](1000)}
	spec.EnableServiceLinks = ptr.To(false)
	spec.PreemptionPolicy = ptr.To(corev1.PreemptNever)
	spec.Priority = ptr.To[int32](7)
	c := &spec.Containers[0]
	c.ImagePullPolicy = corev1.PullNever
	c.TerminationMessagePath = "/tmp/msg"
	c.TerminationMessagePolicy = corev1.TerminationMessageFallbackToLogsOnError
	c.Ports[0].Protocol = corev1.ProtocolUDP
	c.LivenessProbe.TimeoutSeconds = 5
	c.LivenessProbe.HTTPGet.Path = "/healthz"
	c.LivenessProbe.HTTPGet.Scheme = corev1.URISchemeHTTPS
	c.Resources.Requests = corev1.ResourceList{"cpu": resource.MustParse("100m")}
	spec.Volumes[1].ConfigMap.DefaultMode = ptr.To[int32](0400)
	pod.Status.QOSClass = corev1.PodQOSBestEffort
	want := pod.DeepCopy()

	Pod(pod)

	// The only additions: memory request from its limit, and the
	// fields the user did not set.
	want.Spec.Containers[0].Resources.Requests["memory"] = resource.MustParse("128Mi")
	if got := pod.Spec.RestartPolicy; got != want.Spec.RestartPolicy {
		t.Errorf("restartPolicy overwritten: %s", got)
	}
	for name, pair := range map[string][2]any{
		"terminationGracePeriodSeconds": {pod.Spec.TerminationGracePeriodSeconds, want.Spec.TerminationGracePeriodSeconds},
		"dnsPolicy":                     {pod.Spec.DNSPolicy, want.Spec.DNSPolicy},
		"schedulerName":                 {pod.Spec.SchedulerName, want.Spec.SchedulerName},
		"securityContext":               {pod.Spec.SecurityContext, want.Spec.SecurityContext},
		"enableServiceLinks":            {pod.Spec.EnableServiceLinks, want.Spec.EnableServiceLinks},
		"preemptionPolicy":              {pod.Spec.PreemptionPolicy, want.Spec.PreemptionPolicy},
		"priority":                      {pod.Spec.Priority, want.Spec.Priority},
		"container":                     {pod.Spec.Containers[0].ImagePullPolicy, want.Spec.Containers[0].ImagePullPolicy},
		"terminationMessagePath":        {pod.Spec.Containers[0].TerminationMessagePath, want.Spec.Containers[0].TerminationMessagePath},
		"terminationMessagePolicy":      {pod.Spec.Containers[0].TerminationMessagePolicy, want.Spec.Containers[0].TerminationMessagePolicy},
		"protocol":                      {pod.Spec.Containers[0].Ports[0].Protocol, want.Spec.Containers[0].Ports[0].Protocol},
		"probe":                         {pod.Spec.Containers[0].LivenessProbe.HTTPGet, want.Spec.Containers[0].LivenessProbe.HTTPGet},
		"probe timeout":                 {pod.Spec.Containers[0].LivenessProbe.TimeoutSeconds, want.Spec.Containers[0].LivenessProbe.TimeoutSeconds},
		"requests":                      {pod.Spec.Containers[0].Resources.Requests, want.Spec.Containers[0].Resources.Requests},
		"configMap mode":                {pod.Spec.Volumes[1].ConfigMap.DefaultMode, want.Spec.Volumes[1].ConfigMap.DefaultMode},
		"qosClass":                      {pod.Status.QOSClass, want.Status.QOSClass},
	} {
		if !apiequality.Semantic.DeepEqual(pair[0], pair[1]) {
			t.Errorf("%s: got %#v, want %#v", name, pair[0], pair[1])
		}
	}
}

func TestPodHostNetworkPorts(t *testing.T) {
	pod := minimalPod()
	pod.Spec.HostNetwork = true
	pod.Spec.Containers[0].Ports = append(pod.Spec.Containers[0].Ports, corev1.ContainerPort{ContainerPort: 9090, HostPort: 9091})
	Pod(pod)
	if got := pod.Spec.Containers[0].Ports[0].HostPort; got != 80 {
		t.Errorf("hostPort = %d, want 80", got)
	}
	if got := pod.Spec.Containers[0].Ports[1].HostPort; got != 9091 {
		t.Errorf("user hostPort overwritten: %d", got)
	}
}

// Requests default to limits in pods only: a template's pods get it when
// they are created, and the template keeps what its author wrote.
func TestTemplateKeepsRequestsUnset(t *testing.T) {
	tmpl := &corev1.PodTemplateSpec{Spec: minimalPod().Spec}
	PodTemplateSpec(tmpl)
	c := tmpl.Spec.Containers[0]
	if c.Resources.Requests != nil {
		t.Errorf("template requests = %v, want unset", c.Resources.Requests)
	}
	if tmpl.Spec.EnableServiceLinks != nil || tmpl.Spec.Priority != nil {
		t.Errorf("pod-only defaults applied to a template")
	}
	if tmpl.Spec.RestartPolicy != corev1.RestartPolicyAlways || c.ImagePullPolicy != corev1.PullAlways {
		t.Errorf("template spec not defaulted: restartPolicy %q, imagePullPolicy %q", tmpl.Spec.RestartPolicy, c.ImagePullPolicy)
	}
}

func TestImagePullPolicy(t *testing.T) {
	for image, want := range map[string]corev1.PullPolicy{
		"nginx":                               corev1.PullAlways,
		"nginx:latest":                        corev1.PullAlways,
		"nginx:1.27":                          corev1.PullIfNotPresent,
		"registry.lab:5000/team/app":          corev1.PullAlways,
		"registry.lab:5000/team/app:v2":       corev1.PullIfNotPresent,
		"nginx@sha256:" + sha:                 corev1.PullIfNotPresent,
		"nginx:latest@sha256:" + sha:          corev1.PullAlways,
		"registry.lab:5000/app@sha256:" + sha: corev1.PullIfNotPresent,
		"":                                    corev1.PullIfNotPresent,
		"nginx:":                              corev1.PullIfNotPresent,
	} {
		c := corev1.Container{Name: "c", Image: image}
		container(&c)
		if c.ImagePullPolicy != want {
			t.Errorf("%q: imagePullPolicy %s, want %s", image, c.ImagePullPolicy, want)
		}
	}
}

const sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestQOSClass(t *testing.T) {
	q := resource.MustParse
	ctr := func(req, lim corev1.ResourceList) corev1.Container {
		return corev1.Container{Resources: corev1.ResourceRequirements{Requests: req, Limits: lim}}
	}
	full := corev1.ResourceList{"cpu": q("1"), "memory": q("1Gi")}
	tests := []struct {
		name       string
		containers []corev1.Container
		want       corev1.PodQOSClass
	}{
		{"nothing", []corev1.Container{ctr(nil, nil)}, corev1.PodQOSBestEffort},
		{"only extended resources", []corev1.Container{ctr(nil, corev1.ResourceList{"example.com/gpu": q("1")})}, corev1.PodQOSBestEffort},
		{"requests equal limits", []corev1.Container{ctr(full, full)}, corev1.PodQOSGuaranteed},
		{"requests below limits", []corev1.Container{ctr(corev1.ResourceList{"cpu": q("500m"), "memory": q("1Gi")}, full)}, corev1.PodQOSBurstable},
		{"only a cpu limit", []corev1.Container{ctr(corev1.ResourceList{"cpu": q("1")}, corev1.ResourceList{"cpu": q("1")})}, corev1.PodQOSBurstable},
		{"one container without limits", []corev1.Container{ctr(full, full), ctr(nil, nil)}, corev1.PodQOSBurstable},
	}
	for _, tc := range tests {
		if got := QOSClass(&corev1.PodSpec{Containers: tc.containers}); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestServiceDefaults(t *testing.T) {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Port: 80}, {Name: "metrics", Port: 9090, TargetPort: intstr.FromString("metrics"), Protocol: corev1.ProtocolUDP}}},
	}
	Service(svc)
	spec := svc.Spec
	checks := []struct {
		name      string
		got, want any
	}{
		{"type", spec.Type, corev1.ServiceTypeClusterIP},
		{"sessionAffinity", spec.SessionAffinity, corev1.ServiceAffinityNone},
		{"protocol", spec.Ports[0].Protocol, corev1.ProtocolTCP},
		{"targetPort", spec.Ports[0].TargetPort, intstr.FromInt32(80)},
		{"user targetPort", spec.Ports[1].TargetPort, intstr.FromString("metrics")},
		{"user protocol", spec.Ports[1].Protocol, corev1.ProtocolUDP},
		{"internalTrafficPolicy", spec.InternalTrafficPolicy, ptr.To(corev1.ServiceInternalTrafficPolicyCluster)},
		{"externalTrafficPolicy", spec.ExternalTrafficPolicy, corev1.ServiceExternalTrafficPolicy("")},
		{"ipFamilyPolicy", spec.IPFamilyPolicy, ptr.To(corev1.IPFamilyPolicySingleStack)},
		{"ipFamilies", spec.IPFamilies, []corev1.IPFamily{corev1.IPv4Protocol}},
		{"clusterIPs", spec.ClusterIPs, []string(nil)},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %#v, want %#v", ch.name, ch.got, ch.want)
		}
	}
}

func TestServiceDefaultsByType(t *testing.T) {
	tests := []struct {
		name  string
		spec  corev1.ServiceSpec
		check func(t *testing.T, s corev1.ServiceSpec)
	}{
		{"NodePort", corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80}}}, func(t *testing.T, s corev1.ServiceSpec) {
			if s.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyCluster || s.AllocateLoadBalancerNodePorts != nil {
				t.Errorf("externalTrafficPolicy %q, allocateLoadBalancerNodePorts %v", s.ExternalTrafficPolicy, s.AllocateLoadBalancerNodePorts)
			}
		}},
		{"LoadBalancer", corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal}, func(t *testing.T, s corev1.ServiceSpec) {
			if s.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal || !ptr.Deref(s.AllocateLoadBalancerNodePorts, false) {
				t.Errorf("externalTrafficPolicy %q, allocateLoadBalancerNodePorts %v", s.ExternalTrafficPolicy, s.AllocateLoadBalancerNodePorts)
			}
		}},
		{"ClusterIP with external IPs", corev1.ServiceSpec{ExternalIPs: []string{"192.168.1.50"}}, func(t *testing.T, s corev1.ServiceSpec) {
			if s.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyCluster {
				t.Errorf("externalTrafficPolicy %q", s.ExternalTrafficPolicy)
			}
		}},
		{"ExternalName", corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com"}, func(t *testing.T, s corev1.ServiceSpec) {
			if s.InternalTrafficPolicy != nil || s.IPFamilyPolicy != nil || s.IPFamilies != nil || s.ClusterIPs != nil {
				t.Errorf("ExternalName got IP fields: %+v", s)
			}
		}},
		{"headless without selector", corev1.ServiceSpec{ClusterIP: "None"}, func(t *testing.T, s corev1.ServiceSpec) {
			if !reflect.DeepEqual(s.ClusterIPs, []string{"None"}) || *s.IPFamilyPolicy != corev1.IPFamilyPolicyRequireDualStack ||
				!reflect.DeepEqual(s.IPFamilies, []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}) {
				t.Errorf("clusterIPs %v, policy %v, families %v", s.ClusterIPs, *s.IPFamilyPolicy, s.IPFamilies)
			}
		}},
		{"headless with selector", corev1.ServiceSpec{ClusterIP: "None", Selector: map[string]string{"app": "db"}}, func(t *testing.T, s corev1.ServiceSpec) {
			if *s.IPFamilyPolicy != corev1.IPFamilyPolicySingleStack || !reflect.DeepEqual(s.IPFamilies, []corev1.IPFamily{corev1.IPv4Protocol}) {
				t.Errorf("policy %v, families %v", *s.IPFamilyPolicy, s.IPFamilies)
			}
		}},
		{"IPv6 cluster IP", corev1.ServiceSpec{ClusterIPs: []string{"fd00::10"}}, func(t *testing.T, s corev1.ServiceSpec) {
			if s.ClusterIP != "fd00::10" || !reflect.DeepEqual(s.IPFamilies, []corev1.IPFamily{corev1.IPv6Protocol}) {
				t.Errorf("clusterIP %q, families %v", s.ClusterIP, s.IPFamilies)
			}
		}},
		{"ClientIP affinity", corev1.ServiceSpec{SessionAffinity: corev1.ServiceAffinityClientIP}, func(t *testing.T, s corev1.ServiceSpec) {
			if got := s.SessionAffinityConfig.ClientIP.TimeoutSeconds; *got != 10800 {
				t.Errorf("timeout %d", *got)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &corev1.Service{Spec: tc.spec}
			Service(s)
			tc.check(t, s.Spec)
		})
	}
}

func TestDeploymentDefaults(t *testing.T) {
	d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: minimalPod().Spec}}}
	Deployment(d)
	spec := d.Spec
	checks := []struct {
		name      string
		got, want any
	}{
		{"replicas", spec.Replicas, ptr.To[int32](1)},
		{"strategy", spec.Strategy, appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
			RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: ptr.To(intstr.FromString("25%")), MaxSurge: ptr.To(intstr.FromString("25%"))}}},
		{"revisionHistoryLimit", spec.RevisionHistoryLimit, ptr.To[int32](10)},
		{"progressDeadlineSeconds", spec.ProgressDeadlineSeconds, ptr.To[int32](600)},
		{"template restartPolicy", spec.Template.Spec.RestartPolicy, corev1.RestartPolicyAlways},
		{"template pull policy", spec.Template.Spec.Containers[0].ImagePullPolicy, corev1.PullAlways},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %#v, want %#v", ch.name, ch.got, ch.want)
		}
	}

	// Recreate gets no rolling update parameters; user values stay.
	d = &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](0), RevisionHistoryLimit: ptr.To[int32](0),
		Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}}}
	Deployment(d)
	if *d.Spec.Replicas != 0 || *d.Spec.RevisionHistoryLimit != 0 || d.Spec.Strategy.RollingUpdate != nil {
		t.Errorf("user values not kept: %+v", d.Spec)
	}
	d = &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Strategy: appsv1.DeploymentStrategy{
		RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: ptr.To(intstr.FromInt32(0))}}}}
	Deployment(d)
	ru := d.Spec.Strategy.RollingUpdate
	if *ru.MaxSurge != intstr.FromInt32(0) || *ru.MaxUnavailable != intstr.FromString("25%") {
		t.Errorf("rolling update = %v/%v", ru.MaxSurge, ru.MaxUnavailable)
	}
}

func TestReplicaSetDefaults(t *testing.T) {
	rs := &appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Template: corev1.PodTemplateSpec{Spec: minimalPod().Spec}}}
	ReplicaSet(rs)
	if *rs.Spec.Replicas != 1 || rs.Spec.Template.Spec.DNSPolicy != corev1.DNSClusterFirst {
		t.Errorf("replicas %d, dnsPolicy %q", *rs.Spec.Replicas, rs.Spec.Template.Spec.DNSPolicy)
	}
	rs = &appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](0)}}
	ReplicaSet(rs)
	if *rs.Spec.Replicas != 0 {
		t.Errorf("replicas overwritten: %d", *rs.Spec.Replicas)
	}
}
