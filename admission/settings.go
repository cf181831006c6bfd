package admission

import (
	"context"
	"fmt"
	"sort"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/shepherd-lab/shepherd/api"
)

// The settings live in this ConfigMap. Each data key is the apiserver flag
// that sets it; a key that is absent takes Kubernetes' default:
//
//	kubectl -n kube-system get configmap shepherd-admission -o yaml
//	data:
//	  default-not-ready-toleration-seconds: "300"
//	  default-unreachable-toleration-seconds: "300"
//
// The apiserver writes it from its flags every time it starts. An edit
// (kubectl edit) applies to every writer at once and lasts until an
// apiserver starts again; a value that does not parse is refused (422).
const (
	SettingsNamespace = metav1.NamespaceSystem
	SettingsName      = "shepherd-admission"
)

// The settings' keys: the apiserver's flag names.
const (
	KeyDefaultNotReadyTolerationSeconds    = "default-not-ready-toleration-seconds"
	KeyDefaultUnreachableTolerationSeconds = "default-unreachable-toleration-seconds"
)

// DefaultTolerationSeconds is Kubernetes' default of both toleration
// settings.
const DefaultTolerationSeconds = 300

// Settings are the cluster-wide admission settings.
type Settings struct {
	// DefaultNotReadyTolerationSeconds and
	// DefaultUnreachableTolerationSeconds are the tolerationSeconds of the
	// NoExecute tolerations for the not-ready and unreachable taints that
	// DefaultTolerationSeconds gives every new pod lacking them.
	DefaultNotReadyTolerationSeconds, DefaultUnreachableTolerationSeconds int64
}

// DefaultSettings are Kubernetes' defaults.
func DefaultSettings() Settings {
	return Settings{
		DefaultNotReadyTolerationSeconds:    DefaultTolerationSeconds,
		DefaultUnreachableTolerationSeconds: DefaultTolerationSeconds,
	}
}

// settingFields ties each key to its field.
var settingFields = []struct {
	key   string
	field func(*Settings) *int64
}{
	{KeyDefaultNotReadyTolerationSeconds, func(s *Settings) *int64 { return &s.DefaultNotReadyTolerationSeconds }},
	{KeyDefaultUnreachableTolerationSeconds, func(s *Settings) *int64 { return &s.DefaultUnreachableTolerationSeconds }},
}

// Validate checks values a user gives (flags or the ConfigMap).
func (s Settings) Validate() error {
	for _, f := range settingFields {
		if v := *f.field(&s); v < 0 {
			return fmt.Errorf("%s: %d must not be negative", f.key, v)
		}
	}
	return nil
}

// ConfigMap returns the settings as the ConfigMap that stores them.
func (s Settings) ConfigMap() *corev1.ConfigMap {
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: SettingsNamespace, Name: SettingsName,
			Annotations: map[string]string{
				"shepherd.io/description": "Cluster-wide admission settings every Shepherd component applies. Written by shepherd-apiserver from its flags (the keys) at start; edits last until it starts again.",
			},
		},
		Data: map[string]string{},
	}
	for _, f := range settingFields {
		cm.Data[f.key] = strconv.FormatInt(*f.field(&s), 10)
	}
	return cm
}

// SettingsFromConfigMap reads settings from their ConfigMap; a missing key
// takes its default. Errors name the field (data[key]).
func SettingsFromConfigMap(cm *corev1.ConfigMap) (Settings, field.ErrorList) {
	s := DefaultSettings()
	var errs field.ErrorList
	known := map[string]bool{}
	for _, f := range settingFields {
		known[f.key] = true
		raw, ok := cm.Data[f.key]
		if !ok {
			continue
		}
		path := field.NewPath("data").Key(f.key)
		v, err := strconv.ParseInt(raw, 10, 64)
		switch {
		case err != nil:
			errs = append(errs, field.Invalid(path, raw, "must be an integer number of seconds"))
		case v < 0:
			errs = append(errs, field.Invalid(path, raw, "must not be negative"))
		default:
			*f.field(&s) = v
		}
	}
	var unknown []string
	for k := range cm.Data {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		errs = append(errs, field.NotSupported(field.NewPath("data").Key(k), k, keys()))
	}
	for k := range cm.BinaryData {
		errs = append(errs, field.Forbidden(field.NewPath("binaryData").Key(k), "admission settings are text"))
	}
	return s, errs
}

func keys() []string {
	out := make([]string, len(settingFields))
	for i, f := range settingFields {
		out[i] = f.key
	}
	return out
}

// IsSettings reports whether obj is the settings ConfigMap.
func IsSettings(obj *corev1.ConfigMap) bool {
	return obj.Namespace == SettingsNamespace && obj.Name == SettingsName
}

// validateSettings is Shepherd's ShepherdAdmissionSettings plugin: a write
// of the settings ConfigMap must parse, or every writer would fall back
// to defaults unnoticed.
func validateSettings(_ context.Context, _ Cluster, a *Attributes) error {
	if a.Resource != api.ConfigMaps || a.Operation == Delete {
		return nil
	}
	cm, ok := a.Object.(*corev1.ConfigMap)
	if !ok || !IsSettings(cm) {
		return nil
	}
	if _, errs := SettingsFromConfigMap(cm); len(errs) > 0 {
		return apierrors.NewInvalid(a.Resource.GroupKind(), cm.Name, errs)
	}
	return nil
}
