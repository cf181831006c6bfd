package integration

import (
	"bufio"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-lab/shepherd/apiserver/apiservertest"
)

const tableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"

func getTable(t *testing.T, url string) metav1.Table {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Accept", tableAccept)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var table metav1.Table
	if err := json.NewDecoder(resp.Body).Decode(&table); err != nil {
		t.Fatal(err)
	}
	if table.Kind != "Table" || resp.StatusCode != 200 {
		t.Fatalf("%s: %d %s", url, resp.StatusCode, table.Kind)
	}
	return table
}

func TestTables(t *testing.T) {
	srv, ctx := apiservertest.Start(t), testCtx(t)
	p := newPod("web", map[string]string{"app": "web"})
	if _, err := srv.Client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	list := getTable(t, srv.URL+"/api/v1/namespaces/default/pods")
	var cols []string
	for _, c := range list.ColumnDefinitions {
		cols = append(cols, c.Name)
	}
	if len(cols) < 5 || cols[0] != "Name" || cols[1] != "Ready" || cols[2] != "Status" || cols[3] != "Restarts" || cols[4] != "Age" {
		t.Fatalf("pod columns %v", cols)
	}
	if len(list.Rows) != 1 || list.Rows[0].Cells[0] != "web" || list.Rows[0].Cells[1] != "0/1" || list.Rows[0].Cells[2] != "Pending" || list.ResourceVersion == "" {
		t.Fatalf("pod rows %+v", list.Rows)
	}
	var partial metav1.PartialObjectMetadata
	if err := json.Unmarshal(list.Rows[0].Object.Raw, &partial); err != nil || partial.Kind != "PartialObjectMetadata" || partial.Labels["app"] != "web" {
		t.Fatalf("default includeObject is the metadata: %s", list.Rows[0].Object.Raw)
	}
	full := getTable(t, srv.URL+"/api/v1/namespaces/default/pods/web?includeObject=Object")
	var obj map[string]any
	json.Unmarshal(full.Rows[0].Object.Raw, &obj)
	if obj["kind"] != "Pod" || obj["spec"] == nil {
		t.Fatalf("includeObject=Object row: %s", full.Rows[0].Object.Raw)
	}
	if none := getTable(t, srv.URL+"/api/v1/namespaces/default/pods?includeObject=None"); none.Rows[0].Object.Raw != nil {
		t.Fatal("includeObject=None embedded an object")
	}
	// Resources without a specific table get Kubernetes' default one.
	ns := getTable(t, srv.URL+"/api/v1/namespaces")
	if ns.ColumnDefinitions[1].Name != "Status" {
		t.Fatalf("namespace columns %+v", ns.ColumnDefinitions)
	}

	// kubectl get --watch: each event's object is a one-row table.
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/namespaces/default/pods?watch=1&resourceVersion="+list.ResourceVersion, nil)
	req.Header.Set("Accept", tableAccept)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	go func() {
		time.Sleep(100 * time.Millisecond)
		srv.Client.CoreV1().Pods("default").Create(ctx, newPod("second", nil), metav1.CreateOptions{})
	}()
	line, err := bufio.NewReader(resp.Body).ReadBytes('\n')
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Type   string
		Object metav1.Table
	}
	if err := json.Unmarshal(line, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Type != "ADDED" || ev.Object.Kind != "Table" || len(ev.Object.Rows) != 1 || ev.Object.Rows[0].Cells[0] != "second" {
		t.Fatalf("table watch event %s", line)
	}
}
