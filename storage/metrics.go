package storage

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the store's Prometheus series, named as kube-apiserver names
// them so existing etcd dashboards work unchanged.
type Metrics struct {
	requestDuration *prometheus.HistogramVec
}

// NewMetrics creates the store's series and registers them with reg (nil
// leaves them unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "etcd_request_duration_seconds",
			Help:    "Etcd request latency in seconds for each operation and object type.",
			Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}, []string{"operation", "type"}),
	}
	if reg != nil {
		reg.MustRegister(m.requestDuration)
	}
	return m
}

func (m *Metrics) observe(op, typ string, start time.Time) {
	if m == nil {
		return
	}
	m.requestDuration.WithLabelValues(op, typ).Observe(time.Since(start).Seconds())
}
