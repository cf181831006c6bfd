package apiserver

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/shepherd-lab/shepherd/storage"
)

// metrics are the apiserver's Prometheus series, named and labelled as
// kube-apiserver's.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inflight *prometheus.GaugeVec
	storage  *storage.Metrics
}

func newMetrics() *metrics {
	reg := prometheus.NewRegistry()
	m := &metrics{
		registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apiserver_request_total",
			Help: "Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, component, and HTTP response code.",
		}, []string{"verb", "dry_run", "group", "version", "resource", "subresource", "scope", "component", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "apiserver_request_duration_seconds",
			Help:    "Response latency distribution in seconds for each verb, dry run value, group, version, resource, subresource, scope and component.",
			Buckets: []float64{0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60},
		}, []string{"verb", "dry_run", "group", "version", "resource", "subresource", "scope", "component"}),
		inflight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "apiserver_current_inflight_requests",
			Help: "Maximal number of currently used inflight request limit of this apiserver per request kind in last second.",
		}, []string{"request_kind"}),
		storage: storage.NewMetrics(reg),
	}
	reg.MustRegister(m.requests, m.duration, m.inflight,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observe records one finished request.
func (m *metrics) observe(info requestInfo, dryRun bool, code int, elapsed time.Duration) {
	verb := metricVerb(info)
	dr := ""
	if dryRun {
		dr = "All"
	}
	m.requests.WithLabelValues(verb, dr, info.Group, info.Version, info.Resource, info.Subresource, info.scope(), "apiserver", strconv.Itoa(code)).Inc()
	if verb != "WATCH" {
		m.duration.WithLabelValues(verb, dr, info.Group, info.Version, info.Resource, info.Subresource, info.scope(), "apiserver").Observe(elapsed.Seconds())
	}
}

// metricVerb is the verb label kube-apiserver uses: the HTTP method, with
// LIST, WATCH and DELETECOLLECTION told apart.
func metricVerb(info requestInfo) string {
	switch info.Verb {
	case "get":
		return "GET"
	case "list":
		return "LIST"
	case "watch":
		return "WATCH"
	case "create":
		return "POST"
	case "update":
		return "PUT"
	case "patch":
		return "PATCH"
	case "delete":
		return "DELETE"
	case "deletecollection":
		return "DELETECOLLECTION"
	}
	return "OTHER"
}

// storageObjects reports apiserver_storage_objects from the watch caches.
type storageObjects struct {
	s    *Server
	desc *prometheus.Desc
}

func (c storageObjects) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c storageObjects) Collect(ch chan<- prometheus.Metric) {
	for _, r := range c.s.resources {
		if cache := c.s.caches[r]; cache != nil {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(cache.Len()), r.GroupResource().String())
		}
	}
}

func newStorageObjects(s *Server) storageObjects {
	return storageObjects{s: s, desc: prometheus.NewDesc("apiserver_storage_objects",
		"Number of stored objects at the time of last check split by kind.", []string{"resource"}, nil)}
}
