package validation

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// validContainer is a container as defaulting leaves it.
func validContainer(name string) corev1.Container {
	return corev1.Container{
		Name:                     name,
		Image:                    "nginx:1.27",
		Ports:                    []corev1.ContainerPort{{Name: "http", ContainerPort: 80, Protocol: corev1.ProtocolTCP}},
		ImagePullPolicy:          corev1.PullIfNotPresent,
		TerminationMessagePath:   corev1.TerminationMessagePathDefault,
		TerminationMessagePolicy: corev1.TerminationMessageReadFile,
	}
}

// validPod is a pod as defaulting leaves it.
func validPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{
			Containers:                    []corev1.Container{validContainer("nginx")},
			RestartPolicy:                 corev1.RestartPolicyAlways,
			DNSPolicy:                     corev1.DNSClusterFirst,
			TerminationGracePeriodSeconds: ptr.To[int64](30),
			SecurityContext:               &corev1.PodSecurityContext{},
			SchedulerName:                 corev1.DefaultSchedulerName,
		},
	}
}

func httpProbe() *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			Path: "/healthz", Port: intstr.FromString("http"), Scheme: corev1.URISchemeHTTP}},
		TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 3,
	}
}

type podCase struct {
	name   string
	mutate func(*corev1.Pod)
	want   []wantErr
}

func runPodCases(t *testing.T, tests []podCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := validPod()
			tc.mutate(pod)
			assertErrors(t, ValidatePod(pod), tc.want)
		})
	}
}

func TestValidatePodContainers(t *testing.T) {
	c0 := "spec.containers[0]"
	runPodCases(t, []podCase{
		{"valid", func(*corev1.Pod) {}, nil},
		{"bad pod name", func(p *corev1.Pod) { p.Name = "Web" }, errs(invalid("metadata.name"))},
		{"no namespace", func(p *corev1.Pod) { p.Namespace = "" }, errs(required("metadata.namespace"))},
		{"no containers", func(p *corev1.Pod) { p.Spec.Containers = nil }, errs(required("spec.containers"))},
		{"container name missing", func(p *corev1.Pod) { p.Spec.Containers[0].Name = "" }, errs(required(c0 + ".name"))},
		{"container name not a DNS label", func(p *corev1.Pod) { p.Spec.Containers[0].Name = "Web_1" }, errs(invalid(c0 + ".name"))},
		{"duplicate container names", func(p *corev1.Pod) {
			c := validContainer("nginx")
			c.Ports = nil
			p.Spec.Containers = append(p.Spec.Containers, c)
		}, errs(duplicate("spec.containers[1].name"))},
		{"init container reuses a container name", func(p *corev1.Pod) {
			c := validContainer("nginx")
			c.Ports = nil
			p.Spec.InitContainers = []corev1.Container{c}
		}, errs(duplicate("spec.initContainers[0].name"))},
		{"image missing", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "" }, errs(required(c0 + ".image"))},
		{"image with whitespace", func(p *corev1.Pod) { p.Spec.Containers[0].Image = " nginx" }, errs(invalid(c0 + ".image"))},
		{"pull policy missing", func(p *corev1.Pod) { p.Spec.Containers[0].ImagePullPolicy = "" }, errs(required(c0 + ".imagePullPolicy"))},
		{"pull policy unknown", func(p *corev1.Pod) { p.Spec.Containers[0].ImagePullPolicy = "Sometimes" }, errs(notSupported(c0 + ".imagePullPolicy"))},
		{"termination message policy unknown", func(p *corev1.Pod) {
			p.Spec.Containers[0].TerminationMessagePolicy = "Stdout"
		}, errs(notSupported(c0 + ".terminationMessagePolicy"))},
		{"containerPort missing", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 0 }, errs(required(c0 + ".ports[0].containerPort"))},
		{"containerPort too big", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 70000 }, errs(invalid(c0 + ".ports[0].containerPort"))},
		{"hostPort too big", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].HostPort = 70000 }, errs(invalid(c0 + ".ports[0].hostPort"))},
		{"protocol missing", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].Protocol = "" }, errs(required(c0 + ".ports[0].protocol"))},
		{"protocol unknown", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].Protocol = "HTTP" }, errs(notSupported(c0 + ".ports[0].protocol"))},
		{"port name not IANA_SVC_NAME", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].Name = "web_http" }, errs(invalid(c0 + ".ports[0].name"))},
		{"duplicate port names", func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports,
				corev1.ContainerPort{Name: "http", ContainerPort: 81, Protocol: corev1.ProtocolTCP})
		}, errs(duplicate(c0 + ".ports[1].name"))},
		{"host port clash between containers", func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports[0].HostPort = 8080
			c := validContainer("sidecar")
			c.Ports[0].HostPort = 8080
			p.Spec.Containers = append(p.Spec.Containers, c)
		}, errs(duplicate("spec.containers[1].ports[0].hostPort"))},
		{"restartPolicy on a regular container", func(p *corev1.Pod) {
			p.Spec.Containers[0].RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
		}, errs(forbidden(c0 + ".restartPolicy"))},
		{"sidecar init container with probe", func(p *corev1.Pod) {
			c := validContainer("proxy")
			c.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
			c.ReadinessProbe = httpProbe()
			p.Spec.InitContainers = []corev1.Container{c}
		}, nil},
		{"init container with probe", func(p *corev1.Pod) {
			c := validContainer("setup")
			c.LivenessProbe = httpProbe()
			p.Spec.InitContainers = []corev1.Container{c}
		}, errs(forbidden("spec.initContainers[0].livenessProbe"))},
		{"init container restartPolicy Never", func(p *corev1.Pod) {
			c := validContainer("setup")
			c.RestartPolicy = ptr.To(corev1.ContainerRestartPolicy("Never"))
			p.Spec.InitContainers = []corev1.Container{c}
		}, errs(notSupported("spec.initContainers[0].restartPolicy"))},
		{"ephemeral containers on create", func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", Image: "busybox"}}}
		}, errs(forbidden("spec.ephemeralContainers"))},
	})
}

func TestValidatePodResources(t *testing.T) {
	res := "spec.containers[0].resources"
	q := resource.MustParse
	runPodCases(t, []podCase{
		{"requests within limits", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources = corev1.ResourceRequirements{
				Limits:   corev1.ResourceList{"cpu": q("1"), "memory": q("256Mi")},
				Requests: corev1.ResourceList{"cpu": q("500m"), "memory": q("256Mi")},
			}
		}, nil},
		{"request above limit", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources = corev1.ResourceRequirements{
				Limits: corev1.ResourceList{"cpu": q("500m")}, Requests: corev1.ResourceList{"cpu": q("1")},
			}
		}, errs(invalid(res + ".requests"))},
		{"negative quantity", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{"memory": q("-1Mi")}
		}, errs(invalid(res + ".requests[memory]"))},
		{"unknown resource name", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{"foo": q("1")}
		}, errs(invalid(res+".limits[foo]"), invalid(res+".limits[foo]"))},
		{"standard resource that is not a container resource", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{"pods": q("1")}
		}, errs(invalid(res + ".limits[pods]"))},
		{"fractional extended resource", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{"example.com/gpu": q("500m")}
			p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{"example.com/gpu": q("500m")}
		}, errs(invalid(res+".limits[example.com/gpu]"), invalid(res+".requests[example.com/gpu]"))},
		{"extended resource request without limit", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{"example.com/gpu": q("1")}
		}, errs(required(res + ".limits"))},
		{"hugepages without cpu or memory", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{"hugepages-2Mi": q("4Mi")}
			p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{"hugepages-2Mi": q("4Mi")}
		}, errs(forbidden(res))},
	})

	pod := validPod()
	pod.Spec.Containers[0].Resources = corev1.ResourceRequirements{
		Limits: corev1.ResourceList{"cpu": q("500m")}, Requests: corev1.ResourceList{"cpu": q("1")},
	}
	assertDetail(t, ValidatePod(pod), res+".requests", "must be less than or equal to cpu limit of 500m")
}

func TestValidatePodEnv(t *testing.T) {
	env := "spec.containers[0].env[0]"
	withEnv := func(ev corev1.EnvVar) func(*corev1.Pod) {
		return func(p *corev1.Pod) { p.Spec.Containers[0].Env = []corev1.EnvVar{ev} }
	}
	fieldRef := func(path string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: path}}
	}
	cmRef := &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "mode"}}
	runPodCases(t, []podCase{
		{"plain value", withEnv(corev1.EnvVar{Name: "MODE", Value: "prod"}), nil},
		{"relaxed name", withEnv(corev1.EnvVar{Name: "1-my.var", Value: "x"}), nil},
		{"name missing", withEnv(corev1.EnvVar{Value: "x"}), errs(required(env + ".name"))},
		{"name with =", withEnv(corev1.EnvVar{Name: "A=B"}), errs(invalid(env + ".name"))},
		{"pod name from fieldRef", withEnv(corev1.EnvVar{Name: "POD", ValueFrom: fieldRef("metadata.name")}), nil},
		{"label from fieldRef", withEnv(corev1.EnvVar{Name: "APP", ValueFrom: fieldRef("metadata.labels['app']")}), nil},
		{"fieldRef to a field env cannot read", withEnv(corev1.EnvVar{Name: "P", ValueFrom: fieldRef("spec.restartPolicy")}),
			errs(notSupported(env + ".valueFrom.fieldRef.fieldPath"))},
		{"fieldRef to an unknown field", withEnv(corev1.EnvVar{Name: "P", ValueFrom: fieldRef("spec.foo")}),
			errs(invalid(env + ".valueFrom.fieldRef.fieldPath"))},
		{"fieldRef without apiVersion", withEnv(corev1.EnvVar{Name: "P", ValueFrom: &corev1.EnvVarSource{
			FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}),
			errs(required(env + ".valueFrom.fieldRef.apiVersion"))},
		{"resourceFieldRef", withEnv(corev1.EnvVar{Name: "CPU", ValueFrom: &corev1.EnvVarSource{
			ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu"}}}), nil},
		{"resourceFieldRef unknown", withEnv(corev1.EnvVar{Name: "GPU", ValueFrom: &corev1.EnvVarSource{
			ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.gpu"}}}),
			errs(notSupported(env + ".valueFrom.resourceFieldRef.resource"))},
		{"configMapKeyRef", withEnv(corev1.EnvVar{Name: "MODE", ValueFrom: cmRef}), nil},
		{"configMapKeyRef without key or name", withEnv(corev1.EnvVar{Name: "MODE", ValueFrom: &corev1.EnvVarSource{
			ConfigMapKeyRef: &corev1.ConfigMapKeySelector{}}}),
			errs(invalid(env+".valueFrom.configMapKeyRef.name"), required(env+".valueFrom.configMapKeyRef.key"))},
		{"valueFrom without a source", withEnv(corev1.EnvVar{Name: "X", ValueFrom: &corev1.EnvVarSource{}}),
			errs(invalid(env + ".valueFrom"))},
		{"value and valueFrom", withEnv(corev1.EnvVar{Name: "X", Value: "v", ValueFrom: cmRef}), errs(invalid(env + ".valueFrom"))},
		{"two sources", withEnv(corev1.EnvVar{Name: "X", ValueFrom: &corev1.EnvVarSource{
			ConfigMapKeyRef: cmRef.ConfigMapKeyRef, FieldRef: fieldRef("metadata.name").FieldRef}}),
			errs(invalid(env + ".valueFrom"))},
		{"envFrom without a source", func(p *corev1.Pod) {
			p.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{Prefix: "APP_"}}
		}, errs(invalid("spec.containers[0].envFrom[0]"))},
		{"envFrom with bad prefix", func(p *corev1.Pod) {
			p.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{Prefix: "A=",
				SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}}}}
		}, errs(invalid("spec.containers[0].envFrom[0].prefix"))},
	})
}

func TestValidatePodProbes(t *testing.T) {
	lp := "spec.containers[0].livenessProbe"
	withLiveness := func(mutate func(*corev1.Probe)) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			pr := httpProbe()
			mutate(pr)
			p.Spec.Containers[0].LivenessProbe = pr
		}
	}
	runPodCases(t, []podCase{
		{"http probe", withLiveness(func(*corev1.Probe) {}), nil},
		{"no handler", withLiveness(func(pr *corev1.Probe) { pr.HTTPGet = nil }), errs(required(lp))},
		{"two handlers", withLiveness(func(pr *corev1.Probe) {
			pr.TCPSocket = &corev1.TCPSocketAction{Port: intstr.FromInt32(80)}
		}), errs(forbidden(lp + ".tcpSocket"))},
		{"negative period", withLiveness(func(pr *corev1.Probe) { pr.PeriodSeconds = -1 }), errs(invalid(lp + ".periodSeconds"))},
		{"negative timeout and failure threshold", withLiveness(func(pr *corev1.Probe) {
			pr.TimeoutSeconds, pr.FailureThreshold = -1, -1
		}), errs(invalid(lp+".timeoutSeconds"), invalid(lp+".failureThreshold"))},
		{"liveness successThreshold must be 1", withLiveness(func(pr *corev1.Probe) { pr.SuccessThreshold = 2 }),
			errs(invalid(lp + ".successThreshold"))},
		{"readiness successThreshold may exceed 1", func(p *corev1.Pod) {
			pr := httpProbe()
			pr.SuccessThreshold = 3
			p.Spec.Containers[0].ReadinessProbe = pr
		}, nil},
		{"startup successThreshold must be 1", func(p *corev1.Pod) {
			pr := httpProbe()
			pr.SuccessThreshold = 3
			p.Spec.Containers[0].StartupProbe = pr
		}, errs(invalid("spec.containers[0].startupProbe.successThreshold"))},
		{"unknown scheme", withLiveness(func(pr *corev1.Probe) { pr.HTTPGet.Scheme = "FTP" }), errs(notSupported(lp + ".httpGet.scheme"))},
		{"port zero", withLiveness(func(pr *corev1.Probe) { pr.HTTPGet.Port = intstr.FromInt32(0) }), errs(invalid(lp + ".httpGet.port"))},
		{"exec without command", withLiveness(func(pr *corev1.Probe) {
			pr.HTTPGet = nil
			pr.Exec = &corev1.ExecAction{}
		}), errs(required(lp + ".exec.command"))},
		{"preStop sleep longer than the grace period", func(p *corev1.Pod) {
			p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 60}}}
		}, errs(invalid("spec.containers[0].lifecycle.preStop.sleep.seconds"))},
	})
}

func TestValidatePodSpecFields(t *testing.T) {
	runPodCases(t, []podCase{
		{"restartPolicy unknown", func(p *corev1.Pod) { p.Spec.RestartPolicy = "Sometimes" }, errs(notSupported("spec.restartPolicy"))},
		{"restartPolicy missing", func(p *corev1.Pod) { p.Spec.RestartPolicy = "" }, errs(required("spec.restartPolicy"))},
		{"dnsPolicy unknown", func(p *corev1.Pod) { p.Spec.DNSPolicy = "Custom" }, errs(notSupported("spec.dnsPolicy"))},
		{"dnsPolicy None without dnsConfig", func(p *corev1.Pod) { p.Spec.DNSPolicy = corev1.DNSNone }, errs(required("spec.dnsConfig"))},
		{"dnsConfig with a bad nameserver", func(p *corev1.Pod) {
			p.Spec.DNSPolicy = corev1.DNSNone
			p.Spec.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"1.1.1.x"}}
		}, errs(invalid("spec.dnsConfig.nameservers[0]"))},
		// Kubernetes accepts it: a pod stores 1 (the strategy), a template keeps it.
		{"negative grace period", func(p *corev1.Pod) { p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](-1) }, nil},
		{"grace period missing", func(p *corev1.Pod) { p.Spec.TerminationGracePeriodSeconds = nil },
			errs(required("spec.terminationGracePeriodSeconds"))},
		{"activeDeadlineSeconds zero", func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr.To[int64](0) },
			errs(invalid("spec.activeDeadlineSeconds"))},
		{"bad nodeSelector key", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"disk type": "ssd"} },
			errs(invalid("spec.nodeSelector"))},
		{"bad nodeName", func(p *corev1.Pod) { p.Spec.NodeName = "Node_1" }, errs(invalid("spec.nodeName"))},
		{"bad hostname", func(p *corev1.Pod) { p.Spec.Hostname = "web.1" }, errs(invalid("spec.hostname"))},
		{"preemptionPolicy unknown", func(p *corev1.Pod) { p.Spec.PreemptionPolicy = ptr.To(corev1.PreemptionPolicy("Always")) },
			errs(notSupported("spec.preemptionPolicy"))},
		{"negative runAsUser", func(p *corev1.Pod) { p.Spec.SecurityContext.RunAsUser = ptr.To[int64](-1) },
			errs(invalid("spec.securityContext.runAsUser"))},
		{"negative container runAsGroup", func(p *corev1.Pod) {
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{RunAsGroup: ptr.To[int64](-5)}
		}, errs(invalid("spec.containers[0].securityContext.runAsGroup"))},
		{"privileged without privilege escalation", func(p *corev1.Pod) {
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{
				Privileged: ptr.To(true), AllowPrivilegeEscalation: ptr.To(false)}
		}, errs(invalid("spec.containers[0].securityContext"))},
		{"seccomp type unknown", func(p *corev1.Pod) {
			p.Spec.SecurityContext.SeccompProfile = &corev1.SeccompProfile{Type: "Strict"}
		}, errs(notSupported("spec.securityContext.seccompProfile.type"))},
		{"hostNetwork with matching ports", func(p *corev1.Pod) {
			p.Spec.HostNetwork = true
			p.Spec.Containers[0].Ports[0].HostPort = 80
		}, nil},
		{"hostNetwork with a different hostPort", func(p *corev1.Pod) {
			p.Spec.HostNetwork = true
			p.Spec.Containers[0].Ports[0].HostPort = 8080
		}, errs(invalid("spec.containers[0].ports[0].hostPort"))},
		{"hostNetwork pod with hostPort unset", func(p *corev1.Pod) { p.Spec.HostNetwork = true },
			errs(invalid("spec.containers[0].ports[0].hostPort"))},
		{"node affinity without terms", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{}}}
		}, errs(required("spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"))},
		{"node affinity In without values", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
					MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn}}}}}}}
		}, errs(required("spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values"))},
		{"pod anti-affinity weight out of range", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
				PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
					Weight: 101, PodAffinityTerm: corev1.PodAffinityTerm{TopologyKey: "kubernetes.io/hostname"}}}}}
		}, errs(invalid("spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight"))},
		{"topology spread with zero skew and unknown action", func(p *corev1.Pod) {
			p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{
				MaxSkew: 0, TopologyKey: "zone", WhenUnsatisfiable: "Maybe"}}
		}, errs(invalid("spec.topologySpreadConstraints[0].maxSkew"), notSupported("spec.topologySpreadConstraints[0].whenUnsatisfiable"))},
	})

	pod := validPod()
	pod.Spec.RestartPolicy = "Sometimes"
	assertDetail(t, ValidatePod(pod), "spec.restartPolicy",
		`spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"`)
	pod = validPod()
	pod.Spec.Containers[0].Image = ""
	assertDetail(t, ValidatePod(pod), "spec.containers[0].image", "spec.containers[0].image: Required value")
}

func TestValidatePodTolerations(t *testing.T) {
	tol := "spec.tolerations[0]"
	withToleration := func(tl corev1.Toleration) func(*corev1.Pod) {
		return func(p *corev1.Pod) { p.Spec.Tolerations = []corev1.Toleration{tl} }
	}
	runPodCases(t, []podCase{
		{"Equal", withToleration(corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "gpu", Effect: corev1.TaintEffectNoSchedule}), nil},
		{"tolerate everything", withToleration(corev1.Toleration{Operator: corev1.TolerationOpExists}), nil},
		{"NoExecute for a while", withToleration(corev1.Toleration{Key: "node.kubernetes.io/unreachable",
			Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)}), nil},
		{"Exists with a value", withToleration(corev1.Toleration{Key: "k", Operator: corev1.TolerationOpExists, Value: "v"}),
			errs(invalid(tol + ".operator"))},
		{"unknown operator", withToleration(corev1.Toleration{Key: "k", Operator: "In", Value: "v"}), errs(notSupported(tol + ".operator"))},
		{"unknown effect", withToleration(corev1.Toleration{Key: "k", Operator: corev1.TolerationOpExists, Effect: "NoRun"}),
			errs(notSupported(tol + ".effect"))},
		{"tolerationSeconds without NoExecute", withToleration(corev1.Toleration{Key: "k", Operator: corev1.TolerationOpExists,
			Effect: corev1.TaintEffectNoSchedule, TolerationSeconds: ptr.To[int64](10)}), errs(invalid(tol + ".effect"))},
		{"empty key needs Exists", withToleration(corev1.Toleration{Operator: corev1.TolerationOpEqual, Value: "v"}),
			errs(invalid(tol + ".operator"))},
		{"bad key", withToleration(corev1.Toleration{Key: "a b", Operator: corev1.TolerationOpExists}), errs(invalid(tol + ".key"))},
	})
}

func TestValidatePodTemplateSpec(t *testing.T) {
	base := func() *corev1.PodTemplateSpec {
		p := validPod()
		return &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: p.Labels}, Spec: p.Spec}
	}
	path := field.NewPath("spec", "template")
	tests := []struct {
		name   string
		mutate func(*corev1.PodTemplateSpec)
		want   []wantErr
	}{
		{"valid", func(*corev1.PodTemplateSpec) {}, nil},
		// Defaulting fills the hostPort when the pod is created from the template.
		{"hostNetwork with hostPort unset", func(t *corev1.PodTemplateSpec) { t.Spec.HostNetwork = true }, nil},
		{"bad label", func(t *corev1.PodTemplateSpec) { t.Labels = map[string]string{"a b": "c"} }, errs(invalid("spec.template.labels"))},
		{"container without image", func(t *corev1.PodTemplateSpec) { t.Spec.Containers[0].Image = "" },
			errs(required("spec.template.spec.containers[0].image"))},
		{"ephemeral containers", func(t *corev1.PodTemplateSpec) {
			t.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
				Name: "debug", Image: "busybox", ImagePullPolicy: corev1.PullAlways, TerminationMessagePolicy: corev1.TerminationMessageReadFile}}}
		}, errs(forbidden("spec.template.spec.ephemeralContainers"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmpl := base()
			tc.mutate(tmpl)
			assertErrors(t, ValidatePodTemplateSpec(tmpl, path), tc.want)
		})
	}
}

func TestValidatePodBinding(t *testing.T) {
	b := func(kind, name string) *corev1.Binding {
		return &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
			Target: corev1.ObjectReference{Kind: kind, Name: name}}
	}
	assertErrors(t, ValidatePodBinding(b("Node", "node-1")), nil)
	assertErrors(t, ValidatePodBinding(b("", "node-1")), nil)
	assertErrors(t, ValidatePodBinding(b("Pod", "node-1")), errs(notSupported("target.kind")))
	assertErrors(t, ValidatePodBinding(b("Node", "")), errs(required("target.name")))
}
