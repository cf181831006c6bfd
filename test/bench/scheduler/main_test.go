package main

import (
	"bytes"
	"context"
	"runtime"
	"testing"
	"time"
)

// TestQuickRun runs the whole benchmark with tiny numbers, so the program
// is known to build and run, the scheduler binary included. It checks that
// each figure was measured and that the scheduler placed every pod
// correctly, never how fast: benchmarks do not gate tests.
func TestQuickRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the scheduler, starts etcd and the scheduler")
	}
	cfg, err := parseFlags([]string{"-quick",
		"-nodes=50", "-placed=20", "-pods=200", "-batch=50",
		"-stall-timeout=15s", "-tmpdir=" + t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var out bytes.Buffer
	res, err := run(ctx, cfg, &out)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}

	if res.Setup.Nodes <= 0 || res.Setup.Leases <= 0 || res.Setup.Placed <= 0 {
		t.Errorf("setup times %+v; want all > 0", res.Setup)
	}
	if res.Start.Build <= 0 || res.Start.Healthy <= 0 || res.Start.Leading < res.Start.Healthy {
		t.Errorf("scheduler start: build %v, healthy %v, leading %v; want > 0, leading after healthy",
			res.Start.Build, res.Start.Healthy, res.Start.Leading)
	}
	if res.Start.SyncedNodes != cfg.Nodes || res.Start.SyncedPods != cfg.Placed || res.Start.Synced <= 0 {
		t.Errorf("scheduler caches synced with %d nodes and %d pods after %v; want %d and %d, > 0",
			res.Start.SyncedNodes, res.Start.SyncedPods, res.Start.Synced, cfg.Nodes, cfg.Placed)
	}
	if res.Create.Pods != cfg.Pods || res.Create.Took <= 0 || !(res.createRate() > 0) {
		t.Errorf("created %d pods in %v; want %d in > 0", res.Create.Pods, res.Create.Took, cfg.Pods)
	}
	if res.Bound != cfg.Pods || len(res.Latency) != cfg.Pods || res.Stalled {
		t.Errorf("%d pods bound, %d latencies, stalled %v; want %d, %d, false", res.Bound, len(res.Latency), res.Stalled, cfg.Pods, cfg.Pods)
	}
	if !(res.throughput() > 0) || res.Span <= 0 || res.FirstBound <= 0 || res.FirstBound > res.Span {
		t.Errorf("throughput %v pods/s over %v, first binding after %v; want > 0, first within the span", res.throughput(), res.Span, res.FirstBound)
	}
	if res.Latency.Mean() <= 0 || res.Latency.Quantile(0.5) <= 0 || res.Latency.Quantile(0.99) <= 0 {
		t.Errorf("latency avg %v, p50 %v, p99 %v; want all > 0", res.Latency.Mean(), res.Latency.Quantile(0.5), res.Latency.Quantile(0.99))
	}
	if s := res.attempts("scheduled"); s != cfg.Pods {
		t.Errorf("scheduler_schedule_attempts_total{result=scheduled} %d, want %d", s, cfg.Pods)
	}
	if res.attempts("unschedulable") < 0 || res.attempts("error") < 0 {
		t.Errorf("unschedulable and error attempts missing from the scrape")
	}
	if res.histogramMean("scheduler_scheduling_attempt_duration_seconds", `result="scheduled"`) <= 0 {
		t.Error("no mean scheduling attempt duration")
	}
	if runtime.GOOS == "linux" {
		if res.Sched.PeakRSS <= 0 || res.Sched.RSS <= 0 || res.Sched.PeakRSS < res.Sched.RSS {
			t.Errorf("scheduler memory: peak %d, resident %d; want > 0, peak >= resident", res.Sched.PeakRSS, res.Sched.RSS)
		}
		if res.Sched.CPUTotal <= 0 || res.Sched.CPUMeasured < 0 || res.Sched.CPUMeasured > res.Sched.CPUTotal || res.SelfCPU <= 0 {
			t.Errorf("CPU: scheduler %v measured of %v total, this process %v; want > 0", res.Sched.CPUMeasured, res.Sched.CPUTotal, res.SelfCPU)
		}
	}
	if res.Final.Pods != cfg.Placed+cfg.Pods || res.Final.Unbound != 0 || res.Final.OverCapacity != 0 || res.Final.MaxPods <= 0 {
		t.Errorf("final state %+v; want %d pods, all bound, none over capacity", res.Final, cfg.Placed+cfg.Pods)
	}
	if len(res.Violations) > 0 {
		t.Errorf("correctness violations: %q", res.Violations)
	}
	if !bytes.Contains(out.Bytes(), []byte("targets met:")) {
		t.Error("the report has no summary line")
	}
}

func TestMetricsSum(t *testing.T) {
	m := metricsText(`# HELP scheduler_schedule_attempts_total x
# TYPE scheduler_schedule_attempts_total counter
scheduler_schedule_attempts_total{profile="default-scheduler",result="error"} 0
scheduler_schedule_attempts_total{profile="default-scheduler",result="scheduled"} 10000
scheduler_schedule_attempts_total{profile="default-scheduler",result="unschedulable"} 3
scheduler_schedule_attempts_total_extra{result="scheduled"} 7
leader_election_master_status{name="kube-scheduler"} 1
go_goroutines 42
`)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
		found  bool
	}{
		{"scheduler_schedule_attempts_total", []string{`result="scheduled"`}, 10000, true},
		{"scheduler_schedule_attempts_total", []string{`result="unschedulable"`, `profile="default-scheduler"`}, 3, true},
		{"scheduler_schedule_attempts_total", nil, 10003, true},
		{"scheduler_schedule_attempts_total", []string{`result="nope"`}, 0, false},
		{"go_goroutines", nil, 42, true},
		{"go_gor", nil, 0, false},
	} {
		got, found := m.sum(c.name, c.labels...)
		if got != c.want || found != c.found {
			t.Errorf("sum(%s, %q) = %v, %v; want %v, %v", c.name, c.labels, got, found, c.want, c.found)
		}
	}
}
