package printers

import (
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestSmallTables(t *testing.T) {
	holder := "lab-1"
	tests := []struct {
		name string
		gvk  schema.GroupVersionKind
		obj  runtime.Object
		want []any
	}{
		{"active namespace", namespaceGVK,
			&corev1.Namespace{ObjectMeta: objectMeta("shop"), Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}},
			[]any{"shop", "Active", "10m"}},
		{"terminating namespace", namespaceGVK,
			&corev1.Namespace{ObjectMeta: objectMeta("old"), Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}},
			[]any{"old", "Terminating", "10m"}},
		{"config map counts data and binary data", configMapGVK,
			&corev1.ConfigMap{ObjectMeta: objectMeta("cfg"),
				Data: map[string]string{"a.conf": "x", "b.conf": "y"}, BinaryData: map[string][]byte{"logo.png": {1}}},
			[]any{"cfg", int64(3), "10m"}},
		{"empty config map", configMapGVK, &corev1.ConfigMap{ObjectMeta: objectMeta("empty")}, []any{"empty", int64(0), "10m"}},
		{"secret", secretGVK,
			&corev1.Secret{ObjectMeta: objectMeta("tls"), Type: corev1.SecretTypeTLS,
				Data: map[string][]byte{"tls.crt": {1}, "tls.key": {2}}},
			[]any{"tls", "kubernetes.io/tls", int64(2), "10m"}},
		{"secret with string data", secretGVK,
			&corev1.Secret{ObjectMeta: objectMeta("creds"), Type: corev1.SecretTypeOpaque,
				Data:       map[string][]byte{"user": {1}},
				StringData: map[string]string{"user": "admin", "password": "x"}},
			[]any{"creds", "Opaque", int64(2), "10m"}},
		{"held lease", leaseGVK,
			&coordinationv1.Lease{ObjectMeta: objectMeta("lab-1"), Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder}},
			[]any{"lab-1", "lab-1", "10m"}},
		{"free lease", leaseGVK, &coordinationv1.Lease{ObjectMeta: objectMeta("shepherd-scheduler")},
			[]any{"shepherd-scheduler", "", "10m"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkRow(t, rowOf(t, tt.gvk, tt.obj), tt.want)
		})
	}
}
