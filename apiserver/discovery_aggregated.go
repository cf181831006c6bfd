package apiserver

import (
	"encoding/json"
	"mime"
	"net/http"
	"strings"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	apidiscoveryv2beta1 "k8s.io/api/apidiscovery/v2beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-lab/shepherd/api"
)

// serveAggregatedDiscovery answers /api or /apis with an
// apidiscovery.k8s.io APIGroupDiscoveryList — every group, version and
// resource in one document, as kube-apiserver 1.30+ serves it — when the
// Accept header asks for one. It returns false otherwise.
func (s *Server) serveAggregatedDiscovery(w http.ResponseWriter, r *http.Request, core bool) bool {
	version := ""
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || mt != "application/json" || params["g"] != "apidiscovery.k8s.io" || params["as"] != "APIGroupDiscoveryList" {
			continue
		}
		if params["v"] == "v2" || params["v"] == "v2beta1" {
			version = params["v"]
			break
		}
	}
	if version == "" {
		return false
	}
	list := s.groupDiscovery(core)
	var body any = list
	if version == "v2beta1" {
		// v2beta1 has the same shape under another version.
		data, _ := json.Marshal(list)
		var beta apidiscoveryv2beta1.APIGroupDiscoveryList
		json.Unmarshal(data, &beta)
		beta.TypeMeta = metav1.TypeMeta{Kind: "APIGroupDiscoveryList", APIVersion: "apidiscovery.k8s.io/v2beta1"}
		body = &beta
	}
	data, err := json.Marshal(body)
	if err != nil {
		writeError(w, r, err)
		return true
	}
	w.Header().Set("Content-Type", "application/json;g=apidiscovery.k8s.io;v="+version+";as=APIGroupDiscoveryList")
	w.Header().Set("Vary", "Accept")
	w.Write(data)
	return true
}

// groupDiscovery lists the core group (core) or every other group.
func (s *Server) groupDiscovery(core bool) *apidiscoveryv2.APIGroupDiscoveryList {
	list := &apidiscoveryv2.APIGroupDiscoveryList{
		TypeMeta: metav1.TypeMeta{Kind: "APIGroupDiscoveryList", APIVersion: "apidiscovery.k8s.io/v2"},
	}
	for _, gv := range api.GroupVersions() {
		if (gv.Group == "") != core {
			continue
		}
		version := apidiscoveryv2.APIVersionDiscovery{Version: gv.Version, Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent}
		for _, res := range s.resources {
			if res.GroupVersion != gv {
				continue
			}
			scope := apidiscoveryv2.ScopeCluster
			if res.Namespaced {
				scope = apidiscoveryv2.ScopeNamespace
			}
			verbs := resourceVerbs
			if res == api.Namespaces {
				verbs = namespaceVerbs
			}
			gvk := res.GroupVersionKind()
			entry := apidiscoveryv2.APIResourceDiscovery{
				Resource:         res.Plural,
				ResponseKind:     &metav1.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind},
				Scope:            scope,
				SingularResource: res.Singular,
				Verbs:            verbs,
				ShortNames:       res.ShortNames,
				Categories:       res.Categories,
			}
			for _, sub := range subresources(res) {
				_, name, _ := strings.Cut(sub.Name, "/")
				kind := &metav1.GroupVersionKind{Group: sub.Group, Version: sub.Version, Kind: sub.Kind}
				if sub.Version == "" {
					kind.Group, kind.Version = gvk.Group, gvk.Version
				}
				entry.Subresources = append(entry.Subresources, apidiscoveryv2.APISubresourceDiscovery{
					Subresource: name, ResponseKind: kind, Verbs: sub.Verbs,
				})
			}
			version.Resources = append(version.Resources, entry)
		}
		list.Items = append(list.Items, apidiscoveryv2.APIGroupDiscovery{
			ObjectMeta: metav1.ObjectMeta{Name: gv.Group},
			Versions:   []apidiscoveryv2.APIVersionDiscovery{version},
		})
	}
	return list
}
