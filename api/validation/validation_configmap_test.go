package validation

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestValidateConfigMap(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*corev1.ConfigMap)
		want   []wantErr
	}{
		{"valid", func(*corev1.ConfigMap) {}, nil},
		{"binary data", func(c *corev1.ConfigMap) { c.BinaryData = map[string][]byte{"logo.png": {0x89, 0x50}} }, nil},
		{"bad key", func(c *corev1.ConfigMap) { c.Data["a b"] = "x" }, errs(invalid("data[a b]"))},
		{"dot-dot key", func(c *corev1.ConfigMap) { c.Data[".."] = "x" }, errs(invalid("data[..]"))},
		{"bad binary key", func(c *corev1.ConfigMap) { c.BinaryData = map[string][]byte{"a/b": nil} }, errs(invalid("binaryData[a/b]"))},
		{"key in data and binaryData", func(c *corev1.ConfigMap) { c.BinaryData = map[string][]byte{"app.properties": nil} },
			errs(invalid("data[app.properties]"))},
		{"over 1 MiB", func(c *corev1.ConfigMap) {
			c.Data["a"] = strings.Repeat("x", 512*1024)
			c.BinaryData = map[string][]byte{"b": make([]byte, 512*1024+1)}
			// kube-apiserver reports the whole object, whose path prints as "[]".
		}, errs(tooLong("[]"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfigMap()
			tc.mutate(c)
			assertErrors(t, ValidateConfigMap(c), tc.want)
		})
	}
}

func TestValidateConfigMapUpdate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c, old *corev1.ConfigMap)
		want   []wantErr
	}{
		{"mutable data changes", func(c, _ *corev1.ConfigMap) { c.Data["new"] = "v" }, nil},
		{"becomes immutable", func(c, _ *corev1.ConfigMap) { c.Immutable = ptr.To(true) }, nil},
		{"immutable, labels change", func(c, old *corev1.ConfigMap) {
			old.Immutable, c.Immutable = ptr.To(true), ptr.To(true)
			c.Labels = map[string]string{"a": "b"}
		}, nil},
		{"immutable, data changes", func(c, old *corev1.ConfigMap) {
			old.Immutable, c.Immutable = ptr.To(true), ptr.To(true)
			c.Data["new"] = "v"
		}, errs(forbidden("data"))},
		{"immutable, binaryData changes", func(c, old *corev1.ConfigMap) {
			old.Immutable, c.Immutable = ptr.To(true), ptr.To(true)
			c.BinaryData = map[string][]byte{"b": {1}}
		}, errs(forbidden("binaryData"))},
		{"immutable unset", func(c, old *corev1.ConfigMap) { old.Immutable, c.Immutable = ptr.To(true), nil },
			errs(forbidden("immutable"))},
		{"immutable set to false", func(c, old *corev1.ConfigMap) { old.Immutable, c.Immutable = ptr.To(true), ptr.To(false) },
			errs(forbidden("immutable"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			old := validConfigMap()
			old.ResourceVersion = "1"
			c := old.DeepCopy()
			tc.mutate(c, old)
			got := ValidateConfigMapUpdate(c, old)
			assertErrors(t, got, tc.want)
			for _, e := range got {
				if e.Type == "FieldValueForbidden" && !strings.Contains(e.Error(), "field is immutable when `immutable` is set") {
					t.Errorf("unexpected message: %s", e.Error())
				}
			}
		})
	}
}
