package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/version"

	shepherdversion "github.com/shepherd-lab/shepherd/internal/version"
)

func versionObject() *version.Info { return shepherdversion.Info() }

// healthCheck is one named check of /healthz, /livez and /readyz.
type healthCheck struct {
	name  string
	check func(ctx context.Context) error
}

// serveHealth answers the health endpoints as kube-apiserver does: "ok", or
// with ?verbose one line per check; a single check at /readyz/<name>.
// /livez only says the process serves; /healthz and /readyz also need etcd
// to answer and the watch caches to be filled.
func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) {
	ping := healthCheck{"ping", func(context.Context) error { return nil }}
	etcd := healthCheck{"etcd", func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		return s.store.Ping(ctx)
	}}
	caches := healthCheck{"watch-cache", func(context.Context) error { return s.cachesReady() }}

	path := strings.TrimSuffix(r.URL.Path, "/")
	endpoint, only, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	checks := []healthCheck{ping, etcd, caches}
	if endpoint == "livez" {
		checks = []healthCheck{ping}
	}
	if only != "" {
		var found []healthCheck
		for _, c := range checks {
			if c.name == only {
				found = append(found, c)
			}
		}
		if len(found) == 0 {
			http.Error(w, "404 page not found", http.StatusNotFound)
			return
		}
		checks = found
	}
	var report strings.Builder
	failed := false
	for _, c := range checks {
		if err := c.check(r.Context()); err != nil {
			failed = true
			fmt.Fprintf(&report, "[-]%s failed: %v\n", c.name, err)
		} else {
			fmt.Fprintf(&report, "[+]%s ok\n", c.name)
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if failed {
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, "%s%s check failed\n", report.String(), endpoint)
		return
	}
	if _, verbose := r.URL.Query()["verbose"]; verbose {
		fmt.Fprintf(w, "%s%s check passed\n", report.String(), endpoint)
		return
	}
	fmt.Fprint(w, "ok")
}

// GitVersion is the version every Shepherd component reports
// ("v1.32.0-shepherd.0.1.0"), kubelets included.
func GitVersion() string { return shepherdversion.GitVersion() }
