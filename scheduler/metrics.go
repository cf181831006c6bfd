package scheduler

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are named and labelled as kube-scheduler's, so its dashboards
// and alerts work unchanged.
type metrics struct {
	attempts        *prometheus.CounterVec
	attemptDuration *prometheus.HistogramVec
	sli             *prometheus.HistogramVec
	leader          prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer, profile string, q *Queue) *metrics {
	m := &metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Subsystem: "scheduler", Name: "schedule_attempts_total",
			Help: "Number of attempts to schedule pods, by the result. 'unschedulable' means a pod could not be scheduled, while 'error' means an internal scheduler problem.",
		}, []string{"result", "profile"}),
		attemptDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Subsystem: "scheduler", Name: "scheduling_attempt_duration_seconds",
			Help:    "Scheduling attempt latency in seconds (scheduling algorithm + binding)",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}, []string{"result", "profile"}),
		sli: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Subsystem: "scheduler", Name: "pod_scheduling_sli_duration_seconds",
			Help:    "E2e latency for a pod being scheduled, from the time the pod enters the scheduling queue and might involve multiple scheduling attempts.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 20),
		}, []string{"attempts"}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name:        "leader_election_master_status",
			Help:        "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. 'name' is the string used to identify the lease. Please make sure to group by name.",
			ConstLabels: prometheus.Labels{"name": "kube-scheduler"},
		}),
	}
	for _, r := range []string{"scheduled", "unschedulable", "error"} {
		m.attempts.WithLabelValues(r, profile)
	}
	reg.MustRegister(m.attempts, m.attemptDuration, m.sli, m.leader)
	for _, part := range []string{"active", "backoff", "unschedulable", "gated"} {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Subsystem: "scheduler", Name: "pending_pods",
			Help:        "Number of pending pods, by the queue type. 'active' means number of pods in activeQ; 'backoff' means number of pods in backoffQ; 'unschedulable' means number of pods in unschedulablePods that the scheduler attempted to schedule and failed; 'gated' is the number of unschedulable pods that the scheduler never attempted to schedule because they are gated.",
			ConstLabels: prometheus.Labels{"queue": part},
		}, func() float64 {
			a, b, u, g := q.Lengths()
			return float64(map[string]int{"active": a, "backoff": b, "unschedulable": u, "gated": g}[part])
		}))
	}
	return m
}
