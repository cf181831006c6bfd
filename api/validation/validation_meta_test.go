package validation

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// ObjectMeta rules are shared by every kind; they are exercised here through
// ConfigMap (namespaced, DNS-1123 subdomain names) and Namespace and Node
// (cluster-scoped).

func validConfigMap() *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "app-config", Namespace: "default"},
		Data:       map[string]string{"app.properties": "a=b"},
	}
}

func TestObjectMetaCreate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*corev1.ConfigMap)
		want   []wantErr
	}{
		{"valid", func(*corev1.ConfigMap) {}, nil},
		{"valid with generateName", func(c *corev1.ConfigMap) { c.GenerateName = "app-" }, nil},
		{"uppercase name", func(c *corev1.ConfigMap) { c.Name = "Foo" }, errs(invalid("metadata.name"))},
		{"name too long", func(c *corev1.ConfigMap) { c.Name = strings.Repeat("a", 254) }, errs(invalid("metadata.name"))},
		{"missing name", func(c *corev1.ConfigMap) { c.Name = "" }, errs(required("metadata.name"))},
		{"bad generateName", func(c *corev1.ConfigMap) { c.GenerateName = "App_" }, errs(invalid("metadata.generateName"))},
		{"missing namespace", func(c *corev1.ConfigMap) { c.Namespace = "" }, errs(required("metadata.namespace"))},
		{"bad namespace", func(c *corev1.ConfigMap) { c.Namespace = "my.ns" }, errs(invalid("metadata.namespace"))},
		{"bad label key", func(c *corev1.ConfigMap) { c.Labels = map[string]string{"bad key": "v"} }, errs(invalid("metadata.labels"))},
		{"bad label value", func(c *corev1.ConfigMap) { c.Labels = map[string]string{"app": "-v-"} }, errs(invalid("metadata.labels"))},
		{"bad annotation key", func(c *corev1.ConfigMap) { c.Annotations = map[string]string{"a b": "v"} }, errs(invalid("metadata.annotations"))},
		{"annotations too large", func(c *corev1.ConfigMap) {
			c.Annotations = map[string]string{"big": strings.Repeat("x", 256*1024)}
		}, errs(tooLong("metadata.annotations"))},
		{"incomplete owner reference", func(c *corev1.ConfigMap) {
			c.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment"}}
		}, errs(required("metadata.ownerReferences[0].name"), required("metadata.ownerReferences[0].uid"))},
		{"two controllers", func(c *corev1.ConfigMap) {
			c.OwnerReferences = []metav1.OwnerReference{
				{APIVersion: "v1", Kind: "A", Name: "a", UID: "1", Controller: ptr.To(true)},
				{APIVersion: "v1", Kind: "B", Name: "b", UID: "2", Controller: ptr.To(true)},
			}
		}, errs(invalid("metadata.ownerReferences"))},
		{"unqualified finalizer", func(c *corev1.ConfigMap) { c.Finalizers = []string{"cleanup"} }, errs(invalid("metadata.finalizers[0]"))},
		{"standard and qualified finalizers", func(c *corev1.ConfigMap) {
			c.Finalizers = []string{"orphan", "example.com/cleanup"}
		}, nil},
		{"conflicting deletion finalizers", func(c *corev1.ConfigMap) {
			c.Finalizers = []string{metav1.FinalizerOrphanDependents, metav1.FinalizerDeleteDependents}
		}, errs(invalid("metadata.finalizers"))},
		{"negative generation", func(c *corev1.ConfigMap) { c.Generation = -1 }, errs(invalid("metadata.generation"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfigMap()
			tc.mutate(c)
			assertErrors(t, ValidateConfigMap(c), tc.want)
		})
	}
}

func TestObjectMetaMessages(t *testing.T) {
	c := validConfigMap()
	c.Name = "Foo"
	got := ValidateConfigMap(c)
	assertDetail(t, got, "metadata.name", `metadata.name: Invalid value: "Foo": a lowercase RFC 1123 subdomain must consist of`)
}

func TestClusterScopedNamespaceForbidden(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a", Namespace: "default"}}
	assertErrors(t, ValidateNamespace(ns), errs(forbidden("metadata.namespace")))
	n := validNode()
	n.Namespace = "default"
	assertErrors(t, ValidateNode(n), errs(forbidden("metadata.namespace")))
}

func TestObjectMetaUpdate(t *testing.T) {
	now := metav1.Now()
	tests := []struct {
		name   string
		mutate func(c, old *corev1.ConfigMap)
		want   []wantErr
	}{
		{"labels and annotations may change", func(c, _ *corev1.ConfigMap) {
			c.Labels = map[string]string{"tier": "web"}
			c.Annotations = map[string]string{"note": "x"}
		}, nil},
		{"name is immutable", func(c, _ *corev1.ConfigMap) { c.Name = "other" }, errs(invalid("metadata.name"))},
		{"namespace is immutable", func(c, _ *corev1.ConfigMap) { c.Namespace = "other" }, errs(invalid("metadata.namespace"))},
		{"uid is immutable", func(c, _ *corev1.ConfigMap) { c.UID = "other" }, errs(invalid("metadata.uid"))},
		{"creationTimestamp is immutable", func(c, _ *corev1.ConfigMap) {
			c.CreationTimestamp = metav1.NewTime(now.Add(3600e9))
		}, errs(invalid("metadata.creationTimestamp"))},
		{"resourceVersion is required", func(c, _ *corev1.ConfigMap) { c.ResourceVersion = "" }, errs(invalid("metadata.resourceVersion"))},
		{"generation may not decrease", func(c, old *corev1.ConfigMap) { old.Generation = 3; c.Generation = 2 }, errs(invalid("metadata.generation"))},
		{"no new finalizer while deleting", func(c, old *corev1.ConfigMap) {
			old.DeletionTimestamp = &now
			c.DeletionTimestamp = &now
			c.Finalizers = []string{"example.com/late"}
		}, errs(forbidden("metadata.finalizers"))},
		// The update rules and the create rules both look at labels, as in
		// kube-apiserver, so a bad label is reported twice.
		{"bad label on update", func(c, _ *corev1.ConfigMap) { c.Labels = map[string]string{"a b": "v"} },
			errs(invalid("metadata.labels"), invalid("metadata.labels"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			old := validConfigMap()
			old.UID = "uid-1"
			old.ResourceVersion = "5"
			old.CreationTimestamp = now
			c := old.DeepCopy()
			tc.mutate(c, old)
			assertErrors(t, ValidateConfigMapUpdate(c, old), tc.want)
		})
	}
}
