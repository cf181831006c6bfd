package integration

import (
	"io"
	"net/http"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-lab/shepherd/apiserver/apiservertest"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestHealthVersionMetrics(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	for _, path := range []string{"/healthz", "/livez", "/readyz"} {
		if code, body := get(t, srv.URL+path); code != 200 || body != "ok" {
			t.Fatalf("%s: %d %q", path, code, body)
		}
	}
	if code, body := get(t, srv.URL+"/readyz?verbose"); code != 200 || !strings.Contains(body, "[+]etcd ok") {
		t.Fatalf("/readyz?verbose: %d %q", code, body)
	}
	v, err := srv.Client.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v.Major != "1" || v.Minor != "32" || !strings.Contains(v.GitVersion, "shepherd") {
		t.Fatalf("version %+v", v)
	}
	// Some traffic, then the series Kubernetes dashboards use.
	if _, err := srv.Client.CoreV1().Pods("default").Create(ctx, newPod("p", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	code, body := get(t, srv.URL+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, series := range []string{
		`apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="POST",version="v1"} 1`,
		`apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="pods",scope="cluster",subresource="",verb="LIST",version="v1"} 1`,
		`apiserver_request_duration_seconds_bucket{component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="POST",version="v1",le="+Inf"} 1`,
		`apiserver_current_inflight_requests{request_kind="readOnly"}`,
		`apiserver_storage_objects{resource="namespaces"} 4`,
		`etcd_request_duration_seconds_bucket{operation="create",type="pods"`,
		`go_goroutines`,
		`process_resident_memory_bytes`,
	} {
		if !strings.Contains(body, series) {
			t.Errorf("/metrics lacks %s", series)
		}
	}
}
