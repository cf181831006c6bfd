package kubelet

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	corev1 "k8s.io/api/core/v1"

	"github.com/shepherd-lab/shepherd/runtime/container"
)

// metrics are the kubelet's own series (Kubernetes' names) on /metrics;
// the cAdvisor-named container series are on /metrics/cadvisor.
type metrics struct {
	podStartSLI  prometheus.Histogram
	runtimeOps   *prometheus.HistogramVec
	runtimeErrs  *prometheus.CounterVec
	cadvisor     *prometheus.Registry
	runningState func() (pods int, containers map[string]int)
}

func newMetrics(reg *prometheus.Registry, node string) *metrics {
	m := &metrics{
		podStartSLI: prometheus.NewHistogram(prometheus.HistogramOpts{
			Subsystem: "kubelet", Name: "pod_start_sli_duration_seconds",
			Help:    "Duration in seconds to start a pod, excluding time to pull images, observed from the pod's creation to all of its containers running.",
			Buckets: []float64{0.5, 1, 2, 3, 4, 5, 6, 8, 10, 20, 30, 45, 60, 120, 180, 240, 300, 360, 480, 600, 900, 1200, 1800, 2700, 3600},
		}),
		runtimeOps: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Subsystem: "kubelet", Name: "runtime_operations_duration_seconds",
			Help:    "Duration in seconds of runtime operations, by operation type.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 14),
		}, []string{"operation_type"}),
		runtimeErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Subsystem: "kubelet", Name: "runtime_operations_errors_total",
			Help: "Cumulative number of runtime operation errors by operation type.",
		}, []string{"operation_type"}),
		cadvisor: prometheus.NewRegistry(),
	}
	nodeName := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Subsystem: "kubelet", Name: "node_name", Help: "The node's name. The count is always 1.",
	}, []string{"node"})
	nodeName.WithLabelValues(node).Set(1)
	reg.MustRegister(m.podStartSLI, m.runtimeOps, m.runtimeErrs, nodeName, runningCollector{m},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) runtimeOp(op string, start time.Time, err error) {
	m.runtimeOps.WithLabelValues(op).Observe(time.Since(start).Seconds())
	if err != nil {
		m.runtimeErrs.WithLabelValues(op).Inc()
	}
}

// podStarted observes the pod start SLI: from creation to every container
// running, less the time spent pulling images.
func (m *metrics) podStarted(pod *corev1.Pod, now time.Time, pulling time.Duration) {
	d := now.Sub(pod.CreationTimestamp.Time) - pulling
	if d < 0 {
		d = 0
	}
	m.podStartSLI.Observe(d.Seconds())
}

// runningCollector reports kubelet_running_pods and
// kubelet_running_containers from the pod workers at scrape time.
type runningCollector struct{ m *metrics }

var (
	runningPodsDesc       = prometheus.NewDesc("kubelet_running_pods", "Number of pods that have a running pod sandbox.", nil, nil)
	runningContainersDesc = prometheus.NewDesc("kubelet_running_containers", "Number of containers currently running, by state.", []string{"container_state"}, nil)
)

func (c runningCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- runningPodsDesc
	ch <- runningContainersDesc
}

func (c runningCollector) Collect(ch chan<- prometheus.Metric) {
	if c.m.runningState == nil {
		return
	}
	pods, ctrs := c.m.runningState()
	ch <- prometheus.MustNewConstMetric(runningPodsDesc, prometheus.GaugeValue, float64(pods))
	for _, s := range []string{"running", "exited", "created", "unknown"} {
		ch <- prometheus.MustNewConstMetric(runningContainersDesc, prometheus.GaugeValue, float64(ctrs[s]), s)
	}
}

// runningState counts the pods with a sandbox and the containers by state.
func (k *Kubelet) runningState() (int, map[string]int) {
	pods, ctrs := 0, map[string]int{}
	for _, w := range k.pods.snapshotWorkers() {
		w.mu.Lock()
		if w.sandboxReady && !w.terminal {
			pods++
		}
		for _, c := range w.ctrs {
			if c.cur != nil {
				switch c.cur.Status {
				case container.StatusRunning:
					ctrs["running"]++
				case container.StatusExited:
					ctrs["exited"]++
				case container.StatusCreated, container.StatusCreating:
					ctrs["created"]++
				default:
					ctrs["unknown"]++
				}
			}
		}
		w.mu.Unlock()
	}
	return pods, ctrs
}

// cadvisorCollector reports cAdvisor-named series for the kubelet's
// running containers, read from their cgroups at scrape time.
type cadvisorCollector struct{ rt *container.Runtime }

var (
	cadvisorLabels  = []string{"container", "id", "image", "name", "namespace", "pod"}
	cpuUsageDesc    = prometheus.NewDesc("container_cpu_usage_seconds_total", "Cumulative cpu time consumed in seconds.", append(cadvisorLabels, "cpu"), nil)
	workingSetDesc  = prometheus.NewDesc("container_memory_working_set_bytes", "Current working set in bytes.", cadvisorLabels, nil)
	memoryLimitDesc = prometheus.NewDesc("container_spec_memory_limit_bytes", "Memory limit for the container (0: none).", cadvisorLabels, nil)
	startTimeDesc   = prometheus.NewDesc("container_start_time_seconds", "Start time of the container since unix epoch in seconds.", cadvisorLabels, nil)
)

func (c cadvisorCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{cpuUsageDesc, workingSetDesc, memoryLimitDesc, startTimeDesc} {
		ch <- d
	}
}

func (c cadvisorCollector) Collect(ch chan<- prometheus.Metric) {
	list, err := c.rt.List()
	if err != nil {
		return
	}
	for _, st := range list {
		if st.Status != container.StatusRunning || st.Labels[labelPodUID] == "" {
			continue
		}
		labels := []string{st.Labels[labelContainerName], "/" + st.ID, st.Image, st.ID, st.Labels[labelPodNamespace], st.Labels[labelPodName]}
		ch <- prometheus.MustNewConstMetric(startTimeDesc, prometheus.GaugeValue, float64(st.StartedAt.UnixNano())/1e9, labels...)
		s, err := c.rt.Stats(st.ID)
		if err != nil {
			continue
		}
		ch <- prometheus.MustNewConstMetric(cpuUsageDesc, prometheus.CounterValue, float64(s.CPUUsageNanos)/1e9, append(labels, "total")...)
		if s.HasMemory {
			ch <- prometheus.MustNewConstMetric(workingSetDesc, prometheus.GaugeValue, float64(s.MemoryWorkingSet), labels...)
			ch <- prometheus.MustNewConstMetric(memoryLimitDesc, prometheus.GaugeValue, float64(s.MemoryLimit), labels...)
		}
	}
}
