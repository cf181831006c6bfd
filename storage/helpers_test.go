package storage_test

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/shepherd-lab/shepherd/storage"
	"github.com/shepherd-lab/shepherd/storage/storagetest"
)

// Test resources: pods with a node index, and configmaps whose "claim"
// annotation is a unique claim.
var (
	pods = &storage.Resource{
		Name:       "pods",
		Kind:       corev1.SchemeGroupVersion.WithKind("Pod"),
		Namespaced: true,
		New:        func() runtime.Object { return &corev1.Pod{} },
		NewList:    func() runtime.Object { return &corev1.PodList{} },
		Fields: func(obj runtime.Object) fields.Set {
			p := obj.(*corev1.Pod)
			return fields.Set{"spec.nodeName": p.Spec.NodeName, "status.phase": string(p.Status.Phase)}
		},
		Indexes: []storage.Index{{Name: "node", Value: func(obj runtime.Object) string {
			return obj.(*corev1.Pod).Spec.NodeName
		}}},
	}
	configMaps = &storage.Resource{
		Name:       "configmaps",
		Kind:       corev1.SchemeGroupVersion.WithKind("ConfigMap"),
		Namespaced: true,
		New:        func() runtime.Object { return &corev1.ConfigMap{} },
		NewList:    func() runtime.Object { return &corev1.ConfigMapList{} },
		Claims: func(obj runtime.Object) []string {
			if c := obj.(*corev1.ConfigMap).Annotations["claim"]; c != "" {
				return []string{"test/" + c}
			}
			return nil
		},
	}
	nodes = &storage.Resource{
		Name:    "nodes",
		Kind:    corev1.SchemeGroupVersion.WithKind("Node"),
		New:     func() runtime.Object { return &corev1.Node{} },
		NewList: func() runtime.Object { return &corev1.NodeList{} },
	}
)

func newStore(t *testing.T) *storage.Store {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	return storagetest.NewStore(t, scheme)
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func pod(ns, name, node string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
}

func rv(t *testing.T, obj runtime.Object) int64 {
	t.Helper()
	r, err := storage.Revision(obj)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func objectMeta(ns, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, Name: name}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func testContextCancel(t *testing.T) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(testContext(t))
	t.Cleanup(cancel)
	return ctx, cancel
}
