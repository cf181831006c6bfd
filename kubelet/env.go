package kubelet

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"

	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/storage"
)

// objectGetter reads the ConfigMaps and Secrets a pod refers to. A missing
// object is an error wrapping storage.ErrNotFound; any other error is
// taken to be passing (etcd unreachable) and is returned as it is.
type objectGetter interface {
	ConfigMap(ctx context.Context, namespace, name string) (*corev1.ConfigMap, error)
	Secret(ctx context.Context, namespace, name string) (*corev1.Secret, error)
}

// storeObjects is an objectGetter reading etcd.
type storeObjects struct{ Store *storage.Store }

var _ objectGetter = storeObjects{}

func (s storeObjects) ConfigMap(ctx context.Context, namespace, name string) (*corev1.ConfigMap, error) {
	return storage.NewTyped[*corev1.ConfigMap](s.Store, api.ConfigMaps.Storage).Get(ctx, namespace, name)
}

func (s storeObjects) Secret(ctx context.Context, namespace, name string) (*corev1.Secret, error) {
	return storage.NewTyped[*corev1.Secret](s.Store, api.Secrets.Storage).Get(ctx, namespace, name)
}

// configError is a pod's reference to a ConfigMap, Secret or key that does
// not exist and is not optional. The pod worker reports it as the
// container's waiting reason CreateContainerConfigError (env) or a
// FailedMount event (volumes), with Error() as the message: the texts are
// Kubernetes' own. Match it with errors.As; it is never a passing error,
// so retrying before the object is created is pointless.
type configError struct {
	msg string
	err error // wraps storage.ErrNotFound for a missing object; nil for a missing key
}

func (e *configError) Error() string { return e.msg }
func (e *configError) Unwrap() error { return e.err }

// podFacts is what the kubelet knows of a pod beyond its spec.
type podFacts struct {
	PodIP, HostIP string
	// PodIPs and HostIPs are every address, the primary (PodIP, HostIP)
	// first, for dual-stack pods and nodes; empty means PodIP and HostIP
	// alone.
	PodIPs, HostIPs []string
	// NodeAllocatable is what limits default to for resourceFieldRef when
	// a container sets none (cpu, memory, ephemeral-storage), as
	// Kubernetes does.
	NodeAllocatable corev1.ResourceList
}

func (f podFacts) podIPs() []string  { return ipList(f.PodIPs, f.PodIP) }
func (f podFacts) hostIPs() []string { return ipList(f.HostIPs, f.HostIP) }

func ipList(all []string, primary string) []string {
	if len(all) > 0 {
		return all
	}
	if primary == "" {
		return nil
	}
	return []string{primary}
}

// objectCache fetches each ConfigMap and Secret a pod refers to once per
// use (one container's environment, one Setup of a pod's volumes), as
// Kubernetes' kubelet does, so one object is seen at one version.
type objectCache struct {
	get        objectGetter
	namespace  string
	configMaps map[string]*corev1.ConfigMap // nil: not found
	secrets    map[string]*corev1.Secret    // nil: not found
}

func newObjectCache(get objectGetter, namespace string) *objectCache {
	return &objectCache{get: get, namespace: namespace, configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}}
}

// configMap returns the named ConfigMap; nil (and no error) when it does
// not exist and optional is set, a *configError when it does not exist
// otherwise.
func (c *objectCache) configMap(ctx context.Context, name string, optional bool) (*corev1.ConfigMap, error) {
	cm, seen := c.configMaps[name]
	var err error
	if !seen {
		cm, err = c.get.ConfigMap(ctx, c.namespace, name)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			cm, err = nil, nil
		case err != nil:
			return nil, fmt.Errorf("get configmap %s/%s: %w", c.namespace, name, err)
		}
		c.configMaps[name] = cm
	}
	if cm == nil && !optional {
		// Kubernetes' kubelet reads through a cache whose not-found error
		// names the resource in the singular.
		return nil, &configError{msg: fmt.Sprintf("configmap %q not found", name), err: storage.ErrNotFound}
	}
	return cm, nil
}

// secret is configMap for Secrets.
func (c *objectCache) secret(ctx context.Context, name string, optional bool) (*corev1.Secret, error) {
	s, seen := c.secrets[name]
	var err error
	if !seen {
		s, err = c.get.Secret(ctx, c.namespace, name)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			s, err = nil, nil
		case err != nil:
			return nil, fmt.Errorf("get secret %s/%s: %w", c.namespace, name, err)
		}
		c.secrets[name] = s
	}
	if s == nil && !optional {
		return nil, &configError{msg: fmt.Sprintf("secret %q not found", name), err: storage.ErrNotFound}
	}
	return s, nil
}

// containerEnv is the container's environment, "K=V", with Kubernetes'
// semantics: envFrom sources first, in order, then env in order. A later
// definition of a name replaces the value of an earlier one and keeps its
// place (Kubernetes collects the variables in a map and so gives no order
// at all; this order is the one a reader of the spec expects). Within one
// envFrom source keys come sorted.
//
// A value is expanded with $(VAR) against the variables defined before it,
// then the service variables (see expandVars); values from valueFrom are
// not. A reference to a missing, non-optional ConfigMap, Secret or key is
// a *configError.
//
// services are Kubernetes' service-link variables (serviceEnvVars); they
// come last, each unless the container defines its own variable of that
// name.
// Keys of an envFrom source that are no valid variable names (Kubernetes'
// relaxed rule, as the apiserver's validation: printable ASCII but '=')
// are skipped. Kubernetes also records an InvalidEnvironmentVariableNames
// event for them; since ConfigMap and Secret keys are validated to be
// valid names, only objects written around validation can have them.
func containerEnv(ctx context.Context, get objectGetter, pod *corev1.Pod, c *corev1.Container, f podFacts, services []corev1.EnvVar) ([]string, error) {
	objs := newObjectCache(get, pod.Namespace)
	var env orderedEnv
	for _, src := range c.EnvFrom {
		data, err := envFromData(ctx, objs, src)
		if err != nil {
			return nil, err
		}
		for _, k := range sortedKeys(data) {
			name := src.Prefix + k
			if len(utilvalidation.IsRelaxedEnvVarName(name)) > 0 {
				continue
			}
			env.set(name, data[k])
		}
	}
	var svc map[string]string
	lookup := func(name string) (string, bool) {
		if v, ok := env.get(name); ok {
			return v, true
		}
		if svc == nil {
			svc = make(map[string]string, len(services))
			for _, v := range services {
				svc[v.Name] = v.Value
			}
		}
		v, ok := svc[name]
		return v, ok
	}
	for _, v := range c.Env {
		val := v.Value
		if val != "" {
			val = expandVars(val, lookup)
		} else if v.ValueFrom != nil {
			var ok bool
			var err error
			val, ok, err = envValueFrom(ctx, objs, pod, c, f, v.ValueFrom)
			var ce *configError
			if errors.As(err, &ce) {
				return nil, err // Kubernetes' message, unadorned
			}
			if err != nil {
				return nil, fmt.Errorf("env %s: %w", v.Name, err)
			}
			if !ok {
				continue // an optional reference to what does not exist
			}
		}
		env.set(v.Name, val)
	}
	for _, v := range services {
		if _, ok := env.get(v.Name); !ok {
			env.set(v.Name, v.Value)
		}
	}
	return env.list(), nil
}

// envFromData is the key/value data an envFrom source brings: a ConfigMap's
// data (not its binaryData, as Kubernetes) or a Secret's data; nil for an
// optional source that does not exist.
func envFromData(ctx context.Context, objs *objectCache, src corev1.EnvFromSource) (map[string]string, error) {
	switch {
	case src.ConfigMapRef != nil:
		cm, err := objs.configMap(ctx, src.ConfigMapRef.Name, isOptional(src.ConfigMapRef.Optional))
		if err != nil || cm == nil {
			return nil, err
		}
		return cm.Data, nil
	case src.SecretRef != nil:
		s, err := objs.secret(ctx, src.SecretRef.Name, isOptional(src.SecretRef.Optional))
		if err != nil || s == nil {
			return nil, err
		}
		data := make(map[string]string, len(s.Data))
		for k, v := range s.Data {
			data[k] = string(v)
		}
		return data, nil
	}
	return nil, nil
}

// envValueFrom resolves one valueFrom; ok is false for an optional
// ConfigMap, Secret or key that does not exist (the variable is then not
// set at all).
func envValueFrom(ctx context.Context, objs *objectCache, pod *corev1.Pod, c *corev1.Container, f podFacts, from *corev1.EnvVarSource) (val string, ok bool, err error) {
	switch {
	case from.FieldRef != nil:
		val, err = podFieldValue(pod, f, from.FieldRef.FieldPath)
		return val, err == nil, err
	case from.ResourceFieldRef != nil:
		val, err = resourceFieldValue(pod, c, from.ResourceFieldRef, f.NodeAllocatable)
		return val, err == nil, err
	case from.ConfigMapKeyRef != nil:
		ref := from.ConfigMapKeyRef
		optional := isOptional(ref.Optional)
		cm, err := objs.configMap(ctx, ref.Name, optional)
		if err != nil || cm == nil {
			return "", false, err
		}
		if val, ok := cm.Data[ref.Key]; ok {
			return val, true, nil
		}
		if optional {
			return "", false, nil
		}
		return "", false, &configError{msg: fmt.Sprintf("couldn't find key %s in ConfigMap %s/%s", ref.Key, pod.Namespace, ref.Name)}
	case from.SecretKeyRef != nil:
		ref := from.SecretKeyRef
		optional := isOptional(ref.Optional)
		s, err := objs.secret(ctx, ref.Name, optional)
		if err != nil || s == nil {
			return "", false, err
		}
		if val, ok := s.Data[ref.Key]; ok {
			return string(val), true, nil
		}
		if optional {
			return "", false, nil
		}
		return "", false, &configError{msg: fmt.Sprintf("couldn't find key %s in Secret %s/%s", ref.Key, pod.Namespace, ref.Name)}
	}
	return "", false, errors.New("valueFrom: no source set")
}

func isOptional(p *bool) bool { return p != nil && *p }

// orderedEnv is a set of variables that remembers where each was first
// defined.
type orderedEnv struct {
	names []string
	vals  map[string]string
}

func (e *orderedEnv) set(name, val string) {
	if e.vals == nil {
		e.vals = map[string]string{}
	}
	if _, ok := e.vals[name]; !ok {
		e.names = append(e.names, name)
	}
	e.vals[name] = val
}

func (e *orderedEnv) get(name string) (string, bool) {
	v, ok := e.vals[name]
	return v, ok
}

func (e *orderedEnv) list() []string {
	out := make([]string, len(e.names))
	for i, n := range e.names {
		out[i] = n + "=" + e.vals[n]
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// expandVars expands $(VAR) references in s, with Kubernetes' rules for
// command, args, env values and subPathExpr:
//
//   - $(NAME) becomes NAME's value when lookup knows NAME, and is kept as
//     it is ("$(NAME)") when it does not;
//   - $$ is an escaped $: "$$(NAME)" becomes the literal "$(NAME)";
//   - a $ followed by anything else, or by "(" with no ")" after it, or
//     ending s, is kept as it is.
//
// NAME is everything between "$(" and the next ")", unchecked.
func expandVars(s string, lookup func(name string) (string, bool)) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				// Unterminated: "$(" is literal text, and what follows is
				// scanned on.
				b.WriteString("$(")
				i++
				continue
			}
			name := s[i+2 : i+2+end]
			if v, ok := lookup(name); ok {
				b.WriteString(v)
			} else {
				b.WriteString("$(" + name + ")")
			}
			i += 2 + end
		default:
			b.WriteByte('$')
			b.WriteByte(s[i+1])
			i++
		}
	}
	return b.String()
}

// expandCommand expands $(VAR) references in a container's command or
// args against its environment, with expandVars' rules (an unknown
// $(VAR) is kept, $$ is a literal $), as Kubernetes does. env is the
// container's own environment (containerEnv's: env, envFrom and service
// variables), not the image's: Kubernetes does not expand the image's
// variables either. A nil list stays nil (the image's entrypoint or cmd
// then applies).
func expandCommand(list []string, env map[string]string) []string {
	if list == nil {
		return nil
	}
	lookup := func(name string) (string, bool) { v, ok := env[name]; return v, ok }
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = expandVars(s, lookup)
	}
	return out
}

// podFieldValue is the downward API's value of a pod field: the fieldRef
// paths Kubernetes supports in env (the metadata, spec.nodeName,
// spec.serviceAccountName, status.podIP(s) and status.hostIP(s)) and in
// volumes (also metadata.labels and metadata.annotations whole, one
// k="v" line per key, sorted).
func podFieldValue(pod *corev1.Pod, f podFacts, fieldPath string) (string, error) {
	if p, key, ok := splitSubscript(fieldPath); ok {
		switch p {
		case "metadata.labels":
			return pod.Labels[key], nil
		case "metadata.annotations":
			return pod.Annotations[key], nil
		}
		return "", fmt.Errorf("fieldRef %s: no subscript is supported on %s", fieldPath, p)
	}
	switch fieldPath {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.podIP":
		return first(f.podIPs()), nil
	case "status.podIPs":
		return strings.Join(f.podIPs(), ","), nil
	case "status.hostIP":
		return first(f.hostIPs()), nil
	case "status.hostIPs":
		return strings.Join(f.hostIPs(), ","), nil
	}
	return "", fmt.Errorf("fieldRef %s: not supported", fieldPath)
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// splitSubscript splits "metadata.labels['app']" into "metadata.labels"
// and "app".
func splitSubscript(fieldPath string) (string, string, bool) {
	rest, ok := strings.CutSuffix(fieldPath, "']")
	if !ok {
		return "", "", false
	}
	p, key, ok := strings.Cut(rest, "['")
	if !ok || p == "" {
		return "", "", false
	}
	return p, key, true
}

// formatMap is Kubernetes' downward API rendering of labels and
// annotations: one key="value" line per key, sorted, the value quoted as
// Go quotes strings, with no newline after the last.
func formatMap(m map[string]string) string {
	lines := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		lines = append(lines, k+"="+strconv.Quote(m[k]))
	}
	return strings.Join(lines, "\n")
}

// resourceFieldValue is the downward API's value of a container resource
// (limits.cpu, requests.memory, limits.hugepages-2Mi, …) divided by the
// selector's divisor (1 when unset) and rounded up, as Kubernetes: CPU in
// millicores (so 250m with divisor 1 is "1"), the rest in bytes. An unset
// cpu, memory or ephemeral-storage limit is the node's allocatable amount.
// The container is fs.ContainerName when set (a volume's files name one),
// c otherwise.
func resourceFieldValue(pod *corev1.Pod, c *corev1.Container, fs *corev1.ResourceFieldSelector, allocatable corev1.ResourceList) (string, error) {
	if fs.ContainerName != "" && (c == nil || c.Name != fs.ContainerName) {
		c = findContainer(pod, fs.ContainerName)
		if c == nil {
			return "", fmt.Errorf("resourceFieldRef %s: no container named %q", fs.Resource, fs.ContainerName)
		}
	}
	if c == nil {
		return "", fmt.Errorf("resourceFieldRef %s: containerName is required", fs.Resource)
	}
	which, name, _ := strings.Cut(fs.Resource, ".")
	rname := corev1.ResourceName(name)
	var q resource.Quantity
	switch which {
	case "requests":
		q = c.Resources.Requests[rname]
	case "limits":
		q = c.Resources.Limits[rname]
		defaulted := rname == corev1.ResourceCPU || rname == corev1.ResourceMemory || rname == corev1.ResourceEphemeralStorage
		if a, ok := allocatable[rname]; defaulted && q.IsZero() && ok {
			q = a
		}
	default:
		return "", fmt.Errorf("resourceFieldRef %s: not supported", fs.Resource)
	}
	divisor := fs.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	var n, d int64
	switch {
	case rname == corev1.ResourceCPU:
		n, d = q.MilliValue(), divisor.MilliValue()
	case rname == corev1.ResourceMemory, rname == corev1.ResourceEphemeralStorage,
		strings.HasPrefix(name, corev1.ResourceHugePagesPrefix):
		n, d = q.Value(), divisor.Value()
	default:
		return "", fmt.Errorf("resourceFieldRef %s: not supported", fs.Resource)
	}
	if d <= 0 {
		return "", fmt.Errorf("resourceFieldRef %s: divisor %s is too small", fs.Resource, divisor.String())
	}
	v := n / d
	if n%d != 0 {
		v++
	}
	return strconv.FormatInt(v, 10), nil
}

// findContainer finds a container or init container by name.
func findContainer(pod *corev1.Pod, name string) *corev1.Container {
	for _, list := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}

// envMap turns containerEnv's "K=V" entries into a map.
func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}
