package apiserver

import (
	"net"
	"net/http"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/shepherd-lab/shepherd/api"
)

// serveDiscovery answers the discovery documents (/api, /apis, and each
// group and group version); route sends only their paths here.
func (s *Server) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if (path == "/api" || path == "/apis") && s.serveAggregatedDiscovery(w, r, path == "/api") {
		return
	}
	if err := acceptable(r, "get"); err != nil {
		writeError(w, r, err)
		return
	}
	switch {
	case path == "/api":
		writeObject(w, r, http.StatusOK, &metav1.APIVersions{
			TypeMeta:                   metav1.TypeMeta{Kind: "APIVersions"},
			Versions:                   []string{"v1"},
			ServerAddressByClientCIDRs: serverAddresses(r),
		})
	case path == "/api/v1":
		writeObject(w, r, http.StatusOK, s.resourceList(schema.GroupVersion{Version: "v1"}))
	case path == "/apis":
		list := &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}}
		for _, gv := range api.GroupVersions() {
			if gv.Group != "" {
				list.Groups = append(list.Groups, apiGroup(gv))
			}
		}
		writeObject(w, r, http.StatusOK, list)
	case len(parts) == 2 && parts[0] == "apis" && s.servesGroup(parts[1]):
		for _, gv := range api.GroupVersions() {
			if gv.Group == parts[1] {
				g := apiGroup(gv)
				g.TypeMeta = metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"}
				writeObject(w, r, http.StatusOK, &g)
				break
			}
		}
	case len(parts) == 3 && parts[0] == "apis" && s.servesGroupVersion(schema.GroupVersion{Group: parts[1], Version: parts[2]}):
		writeObject(w, r, http.StatusOK, s.resourceList(schema.GroupVersion{Group: parts[1], Version: parts[2]}))
	default:
		writeError(w, r, notFoundResource())
	}
}

func (s *Server) servesGroup(group string) bool {
	for _, gv := range api.GroupVersions() {
		if gv.Group == group && group != "" {
			return true
		}
	}
	return false
}

func (s *Server) servesGroupVersion(gv schema.GroupVersion) bool {
	for _, served := range api.GroupVersions() {
		if served == gv {
			return true
		}
	}
	return false
}

func apiGroup(gv schema.GroupVersion) metav1.APIGroup {
	v := metav1.GroupVersionForDiscovery{GroupVersion: gv.String(), Version: gv.Version}
	return metav1.APIGroup{Name: gv.Group, Versions: []metav1.GroupVersionForDiscovery{v}, PreferredVersion: v}
}

// serverAddresses tells clients the address they reached the server at.
func serverAddresses(r *http.Request) []metav1.ServerAddressByClientCIDR {
	host := r.Host
	if _, _, err := net.SplitHostPort(host); err != nil {
		host = net.JoinHostPort(host, "443")
	}
	return []metav1.ServerAddressByClientCIDR{{ClientCIDR: "0.0.0.0/0", ServerAddress: host}}
}

// Verbs of a resource's main endpoint.
var (
	resourceVerbs  = metav1.Verbs{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
	namespaceVerbs = metav1.Verbs{"create", "delete", "get", "list", "patch", "update", "watch"}
	statusVerbs    = metav1.Verbs{"get", "patch", "update"}
)

// resourceList is the discovery document of one group version.
func (s *Server) resourceList(gv schema.GroupVersion) *metav1.APIResourceList {
	list := &metav1.APIResourceList{
		TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
		GroupVersion: gv.String(),
	}
	for _, res := range s.resources {
		if res.GroupVersion != gv {
			continue
		}
		verbs := resourceVerbs
		if res == api.Namespaces {
			verbs = namespaceVerbs
		}
		list.APIResources = append(list.APIResources, metav1.APIResource{
			Name: res.Plural, SingularName: res.Singular, Namespaced: res.Namespaced, Kind: res.Kind,
			Verbs: verbs, ShortNames: res.ShortNames, Categories: res.Categories,
		})
		for _, sub := range subresources(res) {
			list.APIResources = append(list.APIResources, sub)
		}
	}
	return list
}

// subresources are the discovery entries of a resource's subresources.
func subresources(res *api.Resource) []metav1.APIResource {
	var out []metav1.APIResource
	if res.HasStatus {
		out = append(out, metav1.APIResource{Name: res.Plural + "/status", Namespaced: res.Namespaced, Kind: res.Kind, Verbs: statusVerbs})
	}
	if res.HasFinalize {
		out = append(out, metav1.APIResource{Name: res.Plural + "/finalize", Namespaced: res.Namespaced, Kind: res.Kind, Verbs: metav1.Verbs{"update"}})
	}
	if res.Scale != nil {
		out = append(out, metav1.APIResource{Name: res.Plural + "/scale", Namespaced: res.Namespaced,
			Group: "autoscaling", Version: "v1", Kind: "Scale", Verbs: statusVerbs})
	}
	if res == api.Pods {
		out = append(out, metav1.APIResource{Name: "pods/binding", Namespaced: true, Kind: "Binding", Verbs: metav1.Verbs{"create"}})
		out = append(out, metav1.APIResource{Name: "pods/log", Namespaced: true, Kind: "Pod", Verbs: metav1.Verbs{"get"}})
	}
	// In path order, as kube-apiserver lists them.
	slices.SortFunc(out, func(a, b metav1.APIResource) int { return strings.Compare(a.Name, b.Name) })
	return out
}
