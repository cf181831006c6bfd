package kubelet

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/shepherd-lab/shepherd/storage"
)

// fakeObjectGetter serves ConfigMaps and Secrets from maps keyed
// "namespace/name"; err, when set, is every call's answer.
type fakeObjectGetter struct {
	configMaps map[string]*corev1.ConfigMap
	secrets    map[string]*corev1.Secret
	err        error
}

func (f *fakeObjectGetter) ConfigMap(_ context.Context, namespace, name string) (*corev1.ConfigMap, error) {
	if f.err != nil {
		return nil, f.err
	}
	if cm, ok := f.configMaps[namespace+"/"+name]; ok {
		return cm.DeepCopy(), nil
	}
	return nil, fmt.Errorf("/registry/configmaps/%s/%s: %w", namespace, name, storage.ErrNotFound)
}

func (f *fakeObjectGetter) Secret(_ context.Context, namespace, name string) (*corev1.Secret, error) {
	if f.err != nil {
		return nil, f.err
	}
	if s, ok := f.secrets[namespace+"/"+name]; ok {
		return s.DeepCopy(), nil
	}
	return nil, fmt.Errorf("/registry/secrets/%s/%s: %w", namespace, name, storage.ErrNotFound)
}

func envTestObjects() *fakeObjectGetter {
	return &fakeObjectGetter{
		configMaps: map[string]*corev1.ConfigMap{
			"ns/cfg": {Data: map[string]string{"B": "b", "A": "a", "MODE": "fast"}},
			"ns/odd": {Data: map[string]string{"GOOD": "1", "bad=key": "2", "ключ": "3", "tab\tkey": "4", "dotted.key": "5"}},
			// Another namespace's object of the same name is never read.
			"other/only-elsewhere": {Data: map[string]string{"X": "x"}},
		},
		secrets: map[string]*corev1.Secret{
			"ns/creds": {Data: map[string][]byte{"user": []byte("admin"), "pass": []byte("s3cr=t")}},
		},
	}
}

func envTestPod(c corev1.Container) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: "web-0", Namespace: "ns", UID: "1234-abcd",
			Labels:      map[string]string{"app": "web", "tier": "front"},
			Annotations: map[string]string{"note": `say "hi"`},
		},
		Spec: corev1.PodSpec{
			NodeName: "node-1", ServiceAccountName: "builder",
			Containers: []corev1.Container{c, {
				Name: "sidecar",
				Resources: corev1.ResourceRequirements{
					Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("32Mi")},
				},
			}},
		},
	}
}

func TestContainerEnv(t *testing.T) {
	cmRef := func(name string, optional bool) *corev1.ConfigMapEnvSource {
		return &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Optional: ptr.To(optional)}
	}
	cmKey := func(name, key string, optional bool) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key, Optional: ptr.To(optional)}}
	}
	secretKey := func(name, key string, optional bool) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key, Optional: ptr.To(optional)}}
	}
	tests := []struct {
		name    string
		envFrom []corev1.EnvFromSource
		env     []corev1.EnvVar
		want    []string
	}{{
		name: "envFrom first, keys sorted, then env in order; a redefinition keeps the first place",
		envFrom: []corev1.EnvFromSource{
			{ConfigMapRef: cmRef("cfg", false)},
			{Prefix: "DB_", SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}}},
		},
		env: []corev1.EnvVar{
			{Name: "Z", Value: "z"},
			{Name: "A", Value: "override"},
			{Name: "Y", Value: "y"},
		},
		want: []string{"A=override", "B=b", "MODE=fast", "DB_pass=s3cr=t", "DB_user=admin", "Z=z", "Y=y"},
	}, {
		name:    "envFrom prefix; keys that are no variable names are skipped",
		envFrom: []corev1.EnvFromSource{{Prefix: "P_", ConfigMapRef: cmRef("odd", false)}},
		want:    []string{"P_GOOD=1", "P_dotted.key=5"},
	}, {
		name: "$(VAR) expands against earlier variables only; $$ escapes; unknown references stay",
		envFrom: []corev1.EnvFromSource{
			{ConfigMapRef: cmRef("cfg", false)},
		},
		env: []corev1.EnvVar{
			{Name: "URL", Value: "http://$(HOST):$(PORT)/$(MODE)"},
			{Name: "HOST", Value: "example"},
			{Name: "PORT", Value: "80"},
			{Name: "URL2", Value: "http://$(HOST):$(PORT)/$(MODE)"},
			{Name: "ESCAPED", Value: "$$(HOST) costs $$5"},
			{Name: "SELF", Value: "$(A)$(A)"},
			{Name: "A", Value: "$(A)-again"},
			{Name: "FROM", ValueFrom: cmKey("cfg", "B", false)},
			{Name: "NOT_EXPANDED", ValueFrom: secretKey("creds", "pass", false)},
		},
		want: []string{
			"A=a-again", "B=b", "MODE=fast",
			"URL=http://$(HOST):$(PORT)/fast", "HOST=example", "PORT=80",
			"URL2=http://example:80/fast", "ESCAPED=$(HOST) costs $5", "SELF=aa",
			"FROM=b", "NOT_EXPANDED=s3cr=t",
		},
	}, {
		name: "optional references to what is missing are skipped and override nothing",
		envFrom: []corev1.EnvFromSource{
			{ConfigMapRef: cmRef("cfg", false)},
			{ConfigMapRef: cmRef("missing", true)},
			{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "missing"}, Optional: ptr.To(true)}},
			{ConfigMapRef: cmRef("only-elsewhere", true)},
		},
		env: []corev1.EnvVar{
			{Name: "A", ValueFrom: cmKey("cfg", "nokey", true)},
			{Name: "B", ValueFrom: cmKey("missing", "B", true)},
			{Name: "C", ValueFrom: secretKey("creds", "nokey", true)},
			{Name: "D", ValueFrom: secretKey("missing", "x", true)},
			{Name: "E", Value: "$(C)"},
		},
		want: []string{"A=a", "B=b", "MODE=fast", "E=$(C)"},
	}, {
		name: "an empty value is set, not expanded",
		env:  []corev1.EnvVar{{Name: "EMPTY"}},
		want: []string{"EMPTY="},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := corev1.Container{Name: "app", EnvFrom: tt.envFrom, Env: tt.env}
			got, err := containerEnv(context.Background(), envTestObjects(), envTestPod(c), &c, podFacts{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("env\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestEnvExpandVars(t *testing.T) {
	vars := map[string]string{"A": "a", "B": "b", "EMPTY": ""}
	lookup := func(name string) (string, bool) { v, ok := vars[name]; return v, ok }
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{"$(A)", "a"},
		{"$(A)$(B)", "ab"},
		{"x$(A)y", "xay"},
		{"$(EMPTY)|", "|"},
		{"$(MISSING)", "$(MISSING)"},
		{"$(MISSING)$(A)", "$(MISSING)a"},
		{"$$(A)", "$(A)"},
		{"$$$(A)", "$a"},
		{"$$$$(A)", "$$(A)"},
		{"$$", "$"},
		{"$", "$"},
		{"a$", "a$"},
		{"$A", "$A"},
		{"${A}", "${A}"},
		{"$(A", "$(A"},
		{"$(A$(B)", "$(A$(B)"}, // the name runs to the first ")": "A$(B"
		{"$()", "$()"},
		{"$(A) $$ $(B", "a $ $(B"},
		{"日本$(A)語", "日本a語"},
	}
	for _, tt := range tests {
		if got := expandVars(tt.in, lookup); got != tt.want {
			t.Errorf("expandVars(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// Command and args see the container's environment: a defined variable
// is expanded, an unknown one kept, $$( escapes; the image's variables
// are not the container's (PATH is not expanded); nil stays nil so the
// image's entrypoint still applies.
func TestEnvExpandCommand(t *testing.T) {
	ctx := context.Background()
	pod := envTestPod(corev1.Container{
		Name: "main",
		Env: []corev1.EnvVar{
			{Name: "TEST_VAR", Value: "test-value"},
			{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		},
		EnvFrom: []corev1.EnvFromSource{{Prefix: "CFG_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
	})
	env, err := containerEnv(ctx, envTestObjects(), pod, &pod.Spec.Containers[0], podFacts{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	vars := envMap(env)
	for _, tc := range []struct {
		name     string
		in, want []string
	}{
		{"nil stays nil", nil, nil},
		{"empty stays empty", []string{}, []string{}},
		{"env value", []string{"sh", "-c", "echo $(TEST_VAR)"}, []string{"sh", "-c", "echo test-value"}},
		{"valueFrom and envFrom", []string{"$(POD)", "$(CFG_MODE)"}, []string{"web-0", "fast"}},
		{"unknown kept", []string{"$(NOPE)", "x$(NOPE)y"}, []string{"$(NOPE)", "x$(NOPE)y"}},
		{"escaped", []string{"$$(TEST_VAR)", "$$TEST_VAR"}, []string{"$(TEST_VAR)", "$TEST_VAR"}},
		{"shell syntax untouched", []string{"$TEST_VAR ${TEST_VAR}"}, []string{"$TEST_VAR ${TEST_VAR}"}},
		{"image env is not the container's", []string{"$(PATH)"}, []string{"$(PATH)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := expandCommand(tc.in, vars)
			if (got == nil) != (tc.in == nil) || !slices.Equal(got, tc.want) {
				t.Errorf("expandCommand(%q) = %#v, want %#v", tc.in, got, tc.want)
			}
		})
	}
}

func TestEnvFieldRef(t *testing.T) {
	facts := podFacts{
		PodIP: "10.1.0.5", PodIPs: []string{"10.1.0.5", "fd00::5"},
		HostIP: "192.168.1.10",
	}
	tests := []struct{ path, want string }{
		{"metadata.name", "web-0"},
		{"metadata.namespace", "ns"},
		{"metadata.uid", "1234-abcd"},
		{"metadata.labels['app']", "web"},
		{"metadata.labels['missing']", ""},
		{"metadata.annotations['note']", `say "hi"`},
		{"spec.nodeName", "node-1"},
		{"spec.serviceAccountName", "builder"},
		{"status.podIP", "10.1.0.5"},
		{"status.podIPs", "10.1.0.5,fd00::5"},
		{"status.hostIP", "192.168.1.10"},
		{"status.hostIPs", "192.168.1.10"},
	}
	for _, tt := range tests {
		c := corev1.Container{Name: "app", Env: []corev1.EnvVar{{Name: "V", ValueFrom: &corev1.EnvVarSource{
			FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: tt.path}}}}}
		got, err := containerEnv(context.Background(), envTestObjects(), envTestPod(c), &c, facts, nil)
		if err != nil {
			t.Errorf("%s: %v", tt.path, err)
			continue
		}
		if want := []string{"V=" + tt.want}; !slices.Equal(got, want) {
			t.Errorf("%s: got %q, want %q", tt.path, got, want)
		}
	}
	c := corev1.Container{Name: "app", Env: []corev1.EnvVar{{Name: "V", ValueFrom: &corev1.EnvVarSource{
		FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "status.phase"}}}}}
	if _, err := containerEnv(context.Background(), envTestObjects(), envTestPod(c), &c, facts, nil); err == nil || !strings.Contains(err.Error(), "status.phase") {
		t.Errorf("unsupported field: error %v, want one naming status.phase", err)
	}
}

func TestEnvResourceFieldRef(t *testing.T) {
	allocatable := corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse("4"),
		corev1.ResourceMemory:           resource.MustParse("8Gi"),
		corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
	}
	limited := corev1.ResourceRequirements{
		Limits: corev1.ResourceList{
			corev1.ResourceCPU:              resource.MustParse("250m"),
			corev1.ResourceMemory:           resource.MustParse("1536Ki"), // 1.5Mi
			corev1.ResourceEphemeralStorage: resource.MustParse("2Gi"),
		},
		Requests: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("100m"),
			corev1.ResourceMemory: resource.MustParse("1Mi"),
		},
	}
	tests := []struct {
		name      string
		resources corev1.ResourceRequirements
		ref       corev1.ResourceFieldSelector
		want      string
	}{
		{"cpu limit rounds up to cores", limited, corev1.ResourceFieldSelector{Resource: "limits.cpu"}, "1"},
		{"cpu limit in millicores", limited, corev1.ResourceFieldSelector{Resource: "limits.cpu", Divisor: resource.MustParse("1m")}, "250"},
		{"cpu request", limited, corev1.ResourceFieldSelector{Resource: "requests.cpu", Divisor: resource.MustParse("1m")}, "100"},
		{"memory limit in bytes", limited, corev1.ResourceFieldSelector{Resource: "limits.memory"}, "1572864"},
		{"memory limit rounds up to Mi", limited, corev1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}, "2"},
		{"memory request", limited, corev1.ResourceFieldSelector{Resource: "requests.memory", Divisor: resource.MustParse("1Mi")}, "1"},
		{"ephemeral-storage limit", limited, corev1.ResourceFieldSelector{Resource: "limits.ephemeral-storage", Divisor: resource.MustParse("1Gi")}, "2"},
		{"ephemeral-storage request unset", limited, corev1.ResourceFieldSelector{Resource: "requests.ephemeral-storage"}, "0"},
		{"no cpu limit: node allocatable", corev1.ResourceRequirements{}, corev1.ResourceFieldSelector{Resource: "limits.cpu"}, "4"},
		{"no cpu limit in millicores", corev1.ResourceRequirements{}, corev1.ResourceFieldSelector{Resource: "limits.cpu", Divisor: resource.MustParse("1m")}, "4000"},
		{"no memory limit: node allocatable", corev1.ResourceRequirements{}, corev1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}, "8192"},
		{"no ephemeral-storage limit: node allocatable", corev1.ResourceRequirements{}, corev1.ResourceFieldSelector{Resource: "limits.ephemeral-storage", Divisor: resource.MustParse("1Gi")}, "100"},
		{"no request: zero, not allocatable", corev1.ResourceRequirements{}, corev1.ResourceFieldSelector{Resource: "requests.cpu"}, "0"},
		{"another container by name", limited, corev1.ResourceFieldSelector{ContainerName: "sidecar", Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}, "32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref := tt.ref
			c := corev1.Container{Name: "app", Resources: tt.resources,
				Env: []corev1.EnvVar{{Name: "V", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &ref}}}}
			got, err := containerEnv(context.Background(), envTestObjects(), envTestPod(c), &c, podFacts{NodeAllocatable: allocatable}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{"V=" + tt.want}; !slices.Equal(got, want) {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

func TestEnvConfigErrors(t *testing.T) {
	tests := []struct {
		name     string
		envFrom  []corev1.EnvFromSource
		env      []corev1.EnvVar
		want     string
		notFound bool // wraps storage.ErrNotFound
	}{{
		name:     "envFrom configMap",
		envFrom:  []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}}}},
		want:     `configmap "nope" not found`,
		notFound: true,
	}, {
		name:     "envFrom secret",
		envFrom:  []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}, Optional: ptr.To(false)}}},
		want:     `secret "nope" not found`,
		notFound: true,
	}, {
		name: "configMapKeyRef object, in another namespace only",
		env: []corev1.EnvVar{{Name: "V", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "only-elsewhere"}, Key: "X"}}}},
		want:     `configmap "only-elsewhere" not found`,
		notFound: true,
	}, {
		name: "configMapKeyRef key",
		env: []corev1.EnvVar{{Name: "V", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "NOPE"}}}},
		want: "couldn't find key NOPE in ConfigMap ns/cfg",
	}, {
		name: "secretKeyRef object",
		env: []corev1.EnvVar{{Name: "V", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}, Key: "k"}}}},
		want:     `secret "nope" not found`,
		notFound: true,
	}, {
		name: "secretKeyRef key",
		env: []corev1.EnvVar{{Name: "V", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "token", Optional: ptr.To(false)}}}},
		want: "couldn't find key token in Secret ns/creds",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := corev1.Container{Name: "app", EnvFrom: tt.envFrom, Env: tt.env}
			env, err := containerEnv(context.Background(), envTestObjects(), envTestPod(c), &c, podFacts{}, nil)
			var ce *configError
			if !errors.As(err, &ce) {
				t.Fatalf("got %q, %v; want a *configError", env, err)
			}
			if err.Error() != tt.want {
				t.Errorf("message %q, want %q", err.Error(), tt.want)
			}
			if errors.Is(err, storage.ErrNotFound) != tt.notFound {
				t.Errorf("errors.Is(err, storage.ErrNotFound) = %v, want %v", !tt.notFound, tt.notFound)
			}
		})
	}

	// A store that cannot answer is a passing error, not a config error,
	// even for optional references.
	c := corev1.Container{Name: "app", EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Optional: ptr.To(true)}}}}
	down := &fakeObjectGetter{err: errors.New("etcdserver: request timed out")}
	_, err := containerEnv(context.Background(), down, envTestPod(c), &c, podFacts{}, nil)
	var ce *configError
	if err == nil || errors.As(err, &ce) || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("store down: error %v, want the store's error and no *configError", err)
	}
}
