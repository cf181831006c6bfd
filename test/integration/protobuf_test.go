package integration

import (
	"io"
	"net/http"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/shepherd-lab/shepherd/apiserver/apiservertest"
)

// client-go's generated clients prefer protobuf; the server answers in it,
// and the bytes decode with Kubernetes' own protobuf serializer.
func TestProtobufResponses(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	for _, n := range []string{"a", "b"} {
		if _, err := srv.Client.CoreV1().Pods("default").Create(ctx, newPod(n, map[string]string{"app": n}), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	get := func(path string) []byte {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Accept", "application/vnd.kubernetes.protobuf,application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != "application/vnd.kubernetes.protobuf" {
			t.Fatalf("%s: content type %q", path, ct)
		}
		body, _ := io.ReadAll(resp.Body)
		return body
	}
	codec := protobuf.NewSerializer(scheme.Scheme, scheme.Scheme)
	var list corev1.PodList
	if _, _, err := codec.Decode(get("/api/v1/namespaces/default/pods"), nil, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 2 || list.Items[1].Name != "b" || list.Items[1].Labels["app"] != "b" || list.ResourceVersion == "" {
		t.Fatalf("protobuf list: %d items, rv %q", len(list.Items), list.ResourceVersion)
	}
	var pod corev1.Pod
	if _, _, err := codec.Decode(get("/api/v1/namespaces/default/pods/a"), nil, &pod); err != nil || pod.Name != "a" || pod.UID == "" {
		t.Fatalf("protobuf get: %v %q", err, pod.Name)
	}
}
