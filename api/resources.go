package api

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// All lists every served resource, in the order discovery shows them.
var All = []*Resource{
	Pods, Nodes, Namespaces, Services, Endpoints, Events, ConfigMaps, Secrets,
	Deployments, ReplicaSets,
	Leases,
}

var byGVR = func() map[schema.GroupVersionResource]*Resource {
	m := make(map[schema.GroupVersionResource]*Resource, len(All))
	for _, r := range All {
		m[r.GroupVersionResource()] = r
	}
	return m
}()

// Lookup returns the resource served as gvr, or nil.
func Lookup(gvr schema.GroupVersionResource) *Resource { return byGVR[gvr] }

// GroupVersions returns the served group versions, core first.
func GroupVersions() []schema.GroupVersion {
	var gvs []schema.GroupVersion
	seen := map[schema.GroupVersion]bool{}
	for _, r := range All {
		if !seen[r.GroupVersion] {
			seen[r.GroupVersion] = true
			gvs = append(gvs, r.GroupVersion)
		}
	}
	return gvs
}
