package apiserver

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/storage"
)

// listParams are the query parameters of list and watch requests.
type listParams struct {
	predicate            storage.Predicate
	limit                int64
	continueToken        string
	resourceVersion      string
	revision             int64 // resourceVersion parsed; 0 for "" and "0"
	resourceVersionMatch metav1.ResourceVersionMatch
	timeout              time.Duration
	allowBookmarks       bool
	sendInitialEvents    *bool
}

func parseListParams(r *http.Request, res *api.Resource, info requestInfo) (listParams, error) {
	q := r.URL.Query()
	var p listParams
	if s := q.Get("labelSelector"); s != "" {
		// apimachinery's parser, as kube-apiserver's: its errors are the
		// message, and "a in ()" is valid syntax for a in ("").
		sel, err := labels.Parse(s)
		if err != nil {
			return p, apierrors.NewBadRequest(err.Error())
		}
		p.predicate.Label = sel
	}
	fieldSel := q.Get("fieldSelector")
	if info.Name != "" {
		// A watch on one object: /watch/.../pods/NAME or ?watch&NAME.
		term := "metadata.name=" + info.Name
		if fieldSel != "" {
			term += "," + fieldSel
		}
		fieldSel = term
	}
	if fieldSel != "" {
		sel, err := fields.ParseSelector(fieldSel)
		if err != nil {
			return p, apierrors.NewBadRequest(err.Error())
		}
		supported := res.FieldLabels()
		for _, req := range sel.Requirements() {
			if !contains(supported, req.Field) {
				return p, apierrors.NewBadRequest(fmt.Sprintf("field label not supported: %s", req.Field))
			}
		}
		p.predicate.Field = sel
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return p, apierrors.NewBadRequest(fmt.Sprintf("invalid limit %q", s))
		}
		p.limit = n
	}
	p.continueToken = q.Get("continue")
	p.resourceVersion = q.Get("resourceVersion")
	if p.resourceVersion != "" {
		rev, err := storage.ParseRevision(p.resourceVersion)
		if err != nil {
			return p, apierrors.NewBadRequest(fmt.Sprintf("invalid resource version: %v", err))
		}
		p.revision = rev
	}
	p.resourceVersionMatch = metav1.ResourceVersionMatch(q.Get("resourceVersionMatch"))
	switch p.resourceVersionMatch {
	case "", metav1.ResourceVersionMatchNotOlderThan, metav1.ResourceVersionMatchExact:
	default:
		return p, apierrors.NewBadRequest(fmt.Sprintf("resourceVersionMatch: Unsupported value: %q", p.resourceVersionMatch))
	}
	if p.continueToken != "" && p.resourceVersion != "" && p.resourceVersion != "0" {
		return p, apierrors.NewBadRequest("specifying resource version is not allowed when using continue")
	}
	if s := q.Get("timeoutSeconds"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return p, apierrors.NewBadRequest(fmt.Sprintf("invalid timeoutSeconds %q", s))
		}
		p.timeout = time.Duration(n) * time.Second
	}
	p.allowBookmarks = isTrue(q.Get("allowWatchBookmarks"))
	if v := q.Get("sendInitialEvents"); v != "" {
		b := isTrue(v)
		p.sendInitialEvents = &b
	}
	// The rules of Kubernetes' ValidateListOptions.
	switch {
	case p.sendInitialEvents != nil:
		if info.Verb != "watch" {
			return p, apierrors.NewBadRequest("sendInitialEvents is forbidden for list")
		}
		if p.resourceVersionMatch != metav1.ResourceVersionMatchNotOlderThan {
			return p, apierrors.NewBadRequest("sendInitialEvents requires setting resourceVersionMatch to NotOlderThan")
		}
		if *p.sendInitialEvents && !p.allowBookmarks {
			return p, apierrors.NewBadRequest("sendInitialEvents requires setting allowWatchBookmarks to true")
		}
	case p.resourceVersionMatch != "":
		if info.Verb == "watch" {
			return p, apierrors.NewBadRequest("resourceVersionMatch is forbidden for watch")
		}
		if p.resourceVersion == "" {
			return p, apierrors.NewBadRequest("resourceVersionMatch is forbidden unless resourceVersion is provided")
		}
		if p.resourceVersionMatch == metav1.ResourceVersionMatchExact && p.revision == 0 {
			return p, apierrors.NewBadRequest("resourceVersionMatch \"Exact\" is forbidden for resourceVersion \"0\"")
		}
	}
	return p, nil
}

func isTrue(s string) bool { return s == "true" || s == "1" }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// parseDryRun reads the dryRun parameter: absent, or "All".
func parseDryRun(r *http.Request) (bool, error) {
	values := r.URL.Query()["dryRun"]
	for _, v := range values {
		if v != metav1.DryRunAll {
			return false, apierrors.NewBadRequest(fmt.Sprintf("Invalid dryRun value %q: only %q is supported", v, metav1.DryRunAll))
		}
	}
	return len(values) > 0, nil
}

// checkNamespaceAndName makes the body's metadata agree with the URL: an
// empty namespace is filled in; any other disagreement is a 400.
func checkNamespaceAndName(obj runtime.Object, res *api.Resource, info requestInfo, needName bool) (metav1.Object, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	if res.Namespaced {
		switch ns := m.GetNamespace(); {
		case ns == "":
			m.SetNamespace(info.Namespace)
		case ns != info.Namespace:
			return nil, apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
		}
	}
	if needName && m.GetName() != info.Name {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", m.GetName(), info.Name))
	}
	return m, nil
}

// addWarnings sends warnings as Warning headers, as kube-apiserver does.
func addWarnings(w http.ResponseWriter, warnings []string) {
	for _, msg := range warnings {
		w.Header().Add("Warning", `299 - "`+strings.ReplaceAll(msg, `"`, `\"`)+`"`)
	}
}
