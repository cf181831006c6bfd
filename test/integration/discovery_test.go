package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-lab/shepherd/apiserver/apiservertest"
)

func TestDiscovery(t *testing.T) {
	srv := apiservertest.Start(t)
	// client-go's discovery (aggregated, as kubectl uses it).
	groups, resources, err := srv.Client.Discovery().ServerGroupsAndResources()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range groups {
		names = append(names, g.Name+"/"+g.PreferredVersion.Version)
	}
	sort.Strings(names)
	if strings.Join(names, " ") != "/v1 apps/v1 coordination.k8s.io/v1" {
		t.Fatalf("groups %v", names)
	}
	found := map[string]metav1.APIResource{}
	for _, list := range resources {
		for _, r := range list.APIResources {
			found[list.GroupVersion+" "+r.Name] = r
		}
	}
	pods := found["v1 pods"]
	if !pods.Namespaced || pods.Kind != "Pod" || strings.Join(pods.ShortNames, ",") != "po" || strings.Join(pods.Categories, ",") != "all" ||
		strings.Join(pods.Verbs, ",") != "create,delete,deletecollection,get,list,patch,update,watch" {
		t.Fatalf("pods discovery %+v", pods)
	}
	for _, key := range []string{"v1 pods/status", "v1 pods/binding", "apps/v1 deployments/scale", "apps/v1 replicasets/status", "v1 nodes/status", "v1 namespaces/status", "v1 services/status"} {
		if _, ok := found[key]; !ok {
			t.Errorf("discovery lacks %s", key)
		}
	}
	if scale := found["apps/v1 deployments/scale"]; scale.Kind != "Scale" || scale.Group != "autoscaling" {
		t.Errorf("deployments/scale %+v", scale)
	}
	if ns := found["v1 namespaces"]; ns.Namespaced || strings.Contains(strings.Join(ns.Verbs, ","), "deletecollection") {
		t.Errorf("namespaces discovery %+v", ns)
	}

	// The aggregated document itself, with its content type.
	req, _ := http.NewRequest("GET", srv.URL+"/apis", nil)
	req.Header.Set("Accept", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList" {
		t.Fatalf("aggregated discovery content type %q", ct)
	}
	body, _ := io.ReadAll(resp.Body)
	var agg apidiscoveryv2.APIGroupDiscoveryList
	if err := json.Unmarshal(body, &agg); err != nil {
		t.Fatal(err)
	}
	if len(agg.Items) != 2 || agg.Items[0].Name != "apps" || agg.Items[0].Versions[0].Resources[0].Scope != apidiscoveryv2.ScopeNamespace {
		t.Fatalf("aggregated /apis: %s", body)
	}
}
