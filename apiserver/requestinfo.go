package apiserver

import (
	"fmt"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/validation/path"
)

// requestInfo is what a request's URL and method address.
type requestInfo struct {
	// IsResource is false for non-resource paths (/healthz, /api, ...).
	IsResource  bool
	Group       string
	Version     string
	Namespace   string
	Resource    string
	Name        string
	Subresource string
	// Verb is Kubernetes' verb: get, list, watch, create, update, patch,
	// delete, deletecollection.
	Verb string
}

// namespaceSubresources are the subresources of a namespace itself, as
// opposed to resources inside a namespace.
var namespaceSubresources = map[string]bool{"status": true, "finalize": true}

// parseRequestInfo splits /api/v1/... and /apis/<group>/<version>/...
// request paths as kube-apiserver does.
func parseRequestInfo(r *http.Request) requestInfo {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	var info requestInfo
	switch {
	case len(parts) >= 3 && parts[0] == "api":
		info.Version, parts = parts[1], parts[2:]
	case len(parts) >= 4 && parts[0] == "apis":
		info.Group, info.Version, parts = parts[1], parts[2], parts[3:]
	default:
		return info
	}
	info.IsResource = true
	watchPrefix := false
	if parts[0] == "watch" {
		// The legacy /api/v1/watch/... form.
		watchPrefix, parts = true, parts[1:]
		if len(parts) == 0 {
			info.IsResource = false
			return info
		}
	}
	if parts[0] == "namespaces" && len(parts) > 1 {
		info.Namespace = parts[1]
		if len(parts) > 2 && !namespaceSubresources[parts[2]] {
			parts = parts[2:]
		}
	}
	info.Resource = parts[0]
	if len(parts) > 1 {
		info.Name = parts[1]
	}
	if len(parts) > 2 {
		info.Subresource = parts[2]
	}
	if len(parts) > 3 {
		// Deeper paths (proxy, say) are not served.
		info.Subresource += "/" + strings.Join(parts[3:], "/")
	}
	if info.Resource == "namespaces" && info.Name != "" {
		// /api/v1/namespaces/{name}: the namespace object is not inside itself.
		info.Namespace = ""
	}

	q := r.URL.Query()
	isWatch := watchPrefix || q.Get("watch") == "true" || q.Get("watch") == "1"
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		switch {
		case isWatch:
			info.Verb = "watch"
		case info.Name == "":
			info.Verb = "list"
		default:
			info.Verb = "get"
		}
	case http.MethodPost:
		info.Verb = "create"
	case http.MethodPut:
		info.Verb = "update"
	case http.MethodPatch:
		info.Verb = "patch"
	case http.MethodDelete:
		if info.Name == "" {
			info.Verb = "deletecollection"
		} else {
			info.Verb = "delete"
		}
	default:
		info.Verb = strings.ToLower(r.Method)
	}
	return info
}

// scope is the apiserver_request_* metrics' scope label.
func (i requestInfo) scope() string {
	switch {
	case i.Name != "":
		return "resource"
	case i.Namespace != "":
		return "namespace"
	default:
		return "cluster"
	}
}

// checkPathSegments refuses a namespace or name from the URL that cannot
// be a key segment: "." and "..", and anything with "/" or "%" (URL-decoded
// "%2F" and "%25"). kube-apiserver refuses such a name with this 400 for
// every verb (its storage key function); such a namespace is refused by its
// storage as an invalid key, which it reports as a 500, so it is the same
// 400 here. Other odd namespaces ("%00") are namespaces that do not exist:
// an empty list, a 404.
func checkPathSegments(info requestInfo) error {
	if info.Namespace != "" {
		if msgs := path.IsValidPathSegmentName(info.Namespace); len(msgs) > 0 {
			return apierrors.NewBadRequest(fmt.Sprintf("Namespace parameter invalid: %q: %s", info.Namespace, strings.Join(msgs, ";")))
		}
	}
	if info.Name != "" {
		if msgs := path.IsValidPathSegmentName(info.Name); len(msgs) > 0 {
			return apierrors.NewBadRequest(fmt.Sprintf("Name parameter invalid: %q: %s", info.Name, strings.Join(msgs, ";")))
		}
	}
	return nil
}
