package main

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestQuickRun runs the whole benchmark with tiny numbers: the binaries
// build, the node comes up, every pod reaches Running, each figure is
// measured, and nothing is left behind. It never checks how fast:
// benchmarks do not gate tests.
func TestQuickRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries and runs a node with real containers")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: the kubelet creates namespaces, mounts and cgroups")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("needs /bin/busybox for the test image: install Debian's busybox-static")
	}
	tmp := t.TempDir()
	cfg, err := parseFlags([]string{"-quick", "-tmpdir=" + tmp})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out bytes.Buffer
	res, err := run(ctx, cfg, &out)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}

	s := res.Startup
	if s.Pods != cfg.Pods || s.Running != cfg.Pods || len(s.Stuck) > 0 {
		t.Errorf("%d of %d pods Running (want all %d); not running: %q", s.Running, s.Pods, cfg.Pods, s.Stuck)
	}
	for name, l := range map[string][]time.Duration{"latency": s.Latency, "from sent": s.FromSent, "create call": s.CreateCall} {
		if len(l) != cfg.Pods {
			t.Errorf("%s: %d figures, want %d", name, len(l), cfg.Pods)
		}
	}
	if s.Latency.Quantile(0.5) <= 0 || s.FromSent.Quantile(0.5) <= 0 || s.CreateCall.Quantile(0.5) <= 0 {
		t.Errorf("medians: latency %v, from sent %v, create call %v; want > 0",
			s.Latency.Quantile(0.5), s.FromSent.Quantile(0.5), s.CreateCall.Quantile(0.5))
	}
	if !(s.rate() > 0) || !(s.throughput() > 0) || s.Span < s.FirstRunning {
		t.Errorf("create rate %v, throughput %v, first Running %v, last %v; want > 0, the last after the first",
			s.rate(), s.throughput(), s.FirstRunning, s.Span)
	}
	if s.MetricsError != "" || s.SLI.Count != float64(cfg.Pods) || s.SLI.Sum <= 0 || math.IsNaN(s.SLI.Quantile(0.99)) {
		t.Errorf("kubelet_pod_start_sli_duration_seconds: %+v (scrape error %q); want %d observations", s.SLI, s.MetricsError, cfg.Pods)
	}
	if s.RunningPods != float64(cfg.Pods) {
		t.Errorf("kubelet_running_pods %v after the startup, want %d", s.RunningPods, cfg.Pods)
	}

	for _, c := range []struct {
		name string
		f    idleFigures
		pods int
	}{{"empty", res.Empty, 0}, {"with pods", res.WithPods, cfg.MemoryPods}, {"restarted", res.Restarted, cfg.MemoryPods}} {
		f := c.f
		if f.Pods != c.pods || f.RunningPods != float64(c.pods) {
			t.Errorf("%s: %d pods by the watch, kubelet_running_pods %v; want %d", c.name, f.Pods, f.RunningPods, c.pods)
		}
		if f.Kubelet.RSS <= 0 || f.Kubelet.Peak < f.Kubelet.RSS {
			t.Errorf("%s: kubelet memory %+v; want RSS > 0 and a peak at least that", c.name, f.Kubelet)
		}
		if f.Kubelet.HasPSS && f.Kubelet.PSS <= 0 {
			t.Errorf("%s: kubelet PSS %d", c.name, f.Kubelet.PSS)
		}
		if f.Goroutines <= 0 || f.HeapInuse <= 0 || f.MetricsError != "" {
			t.Errorf("%s: goroutines %v, heap %v, scrape error %q", c.name, f.Goroutines, f.HeapInuse, f.MetricsError)
		}
		if f.Window <= 0 || f.KubeletCPU < 0 || f.APIServerCPU < 0 {
			t.Errorf("%s: CPU window %v, kubelet %v, apiserver %v", c.name, f.Window, f.KubeletCPU, f.APIServerCPU)
		}
		// One monitor per container, and the spare started ahead.
		if f.Monitors.Count < c.pods || f.Monitors.Count > c.pods+1 || f.Monitors.RSS <= 0 {
			t.Errorf("%s: %d monitors with %d kB RSS; want %d or %d", c.name, f.Monitors.Count, f.Monitors.RSS/1024, c.pods, c.pods+1)
		}
		if f.Containers.Count != c.pods {
			t.Errorf("%s: %d container processes, want %d", c.name, f.Containers.Count, c.pods)
		}
	}
	if res.WithPods.Window != cfg.CPUWindow {
		t.Errorf("CPU window %v, want %v", res.WithPods.Window, cfg.CPUWindow)
	}
	if rs := res.Restart; rs.Ready <= 0 || rs.Replaced != 0 || !strings.Contains(rs.Stopped, "SIGTERM") {
		t.Errorf("kubelet restart %+v; want it stopped by SIGTERM, Ready again, no container replaced", rs)
	}

	c := res.Cleanup
	if c == nil {
		t.Fatal("no cleanup report")
	}
	if c.Pods != cfg.MemoryPods || len(c.PodsForced) > 0 || len(c.PodsLeft) > 0 {
		t.Errorf("cleanup deleted %d pods (want %d), forced %q, left %q", c.Pods, cfg.MemoryPods, c.PodsForced, c.PodsLeft)
	}
	if c.dirty() || len(c.Containers) > 0 || len(c.Killed) > 0 || c.CgroupProcs > 0 {
		t.Errorf("cleanup found or left something: %+v", c)
	}
	if entries, _ := os.ReadDir(tmp); len(entries) > 0 {
		t.Errorf("the run's directory is still in %s: %v", tmp, entries)
	}
	if c.Cgroup != "" {
		if matches, _ := filepath.Glob(filepath.Join(filepath.Dir(c.Cgroup), filepath.Base(c.Cgroup)+"*")); len(matches) > 0 {
			t.Errorf("cgroups left: %q", matches)
		}
	}
	if !strings.Contains(out.String(), "targets met:") {
		t.Error("the report has no summary line")
	}
}

func TestParseScrape(t *testing.T) {
	m := parseScrape(`# HELP kubelet_pod_start_sli_duration_seconds x
# TYPE kubelet_pod_start_sli_duration_seconds histogram
kubelet_pod_start_sli_duration_seconds_bucket{le="0.5"} 2
kubelet_pod_start_sli_duration_seconds_bucket{le="1"} 8
kubelet_pod_start_sli_duration_seconds_bucket{le="2"} 10
kubelet_pod_start_sli_duration_seconds_bucket{le="+Inf"} 10
kubelet_pod_start_sli_duration_seconds_sum 7.5
kubelet_pod_start_sli_duration_seconds_count 10
kubelet_runtime_operations_duration_seconds_sum{operation_type="create_container"} 0.3
kubelet_runtime_operations_duration_seconds_count{operation_type="create_container"} 10
kubelet_runtime_operations_duration_seconds_sum{operation_type="start_container"} 0
kubelet_runtime_operations_duration_seconds_count{operation_type="start_container"} 0
odd_labels{a="x,y",b="q\"uote",c="back\\slash"} 3 1700000000000
go_goroutines 42
not a sample
`)
	h := m.histogram("kubelet_pod_start_sli_duration_seconds")
	if !h.Found || h.Count != 10 || h.Sum != 7.5 || len(h.Buckets) != 4 || h.Mean() != 0.75 {
		t.Fatalf("histogram %+v", h)
	}
	for _, c := range []struct{ q, want float64 }{{0.1, 0.25}, {0.5, 0.75}, {0.8, 1}, {0.9, 1.5}, {1, 2}} {
		if got := h.Quantile(c.q); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("Quantile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
	if n, ok := h.AtMost(1); !ok || n != 8 {
		t.Errorf("AtMost(1) = %v, %v; want 8", n, ok)
	}
	inf := m.histogram("kubelet_pod_start_sli_duration_seconds")
	inf.Buckets[2].Count = 8 // the last 2 only in +Inf
	if got := inf.Quantile(0.99); got != 2 {
		t.Errorf("a quantile in the +Inf bucket: %v, want the highest finite bound 2", got)
	}
	if !math.IsNaN((histogram{}).Quantile(0.5)) {
		t.Error("an empty histogram has a quantile")
	}
	ops := m.means("kubelet_runtime_operations_duration_seconds", "operation_type")
	if len(ops) != 2 || ops[0].Op != "create_container" || math.Abs(ops[0].Mean-0.03) > 1e-9 || ops[0].Count != 10 || ops[1].Mean != 0 {
		t.Errorf("means %+v", ops)
	}
	if v, ok := m.value("odd_labels", "a", "x,y", "b", `q"uote`, "c", `back\slash`); !ok || v != 3 {
		t.Errorf("odd_labels: %v, %v; want 3 (quoted and escaped label values, a timestamp)", v, ok)
	}
	if v, ok := m.value("go_goroutines"); !ok || v != 42 {
		t.Errorf("go_goroutines %v, %v", v, ok)
	}
	if _, ok := m.value("go_gorout"); ok {
		t.Error("a name prefix matched")
	}
}

func TestMappedRSS(t *testing.T) {
	smaps := `00400000-00c00000 r-xp 00000000 fd:01 123 /usr/bin/shepherd kubelet
Size:               8192 kB
Rss:                4000 kB
Pss:                4000 kB
00c00000-01000000 r--p 00800000 fd:01 123 /usr/bin/shepherd kubelet
Rss:                1000 kB
01000000-01100000 rw-p 00000000 00:00 0
Rss:                 500 kB
7f0000000000-7f0000001000 r--p 00000000 fd:01 124 /usr/bin/shepherd kubelet2
Rss:                   4 kB
`
	if got := mappedRSS(smaps, "/usr/bin/shepherd kubelet"); got != 5000<<10 {
		t.Errorf("mappedRSS = %d kB, want 5000 (the two mappings of the file, not the anonymous one or another file)", got>>10)
	}
}

func TestParseStat(t *testing.T) {
	st, err := parseStat("1234 (shepherd (x) y) S 77 1234 1234 0 -1 4194560 100 0 0 0 250 130 0 0 20 0 8 0 100 0 0")
	if err != nil {
		t.Fatal(err)
	}
	if st.PPID != 77 || st.CPU != 3800*time.Millisecond {
		t.Errorf("stat %+v; want ppid 77, 3.8s of CPU (380 ticks)", st)
	}
	if _, err := parseStat("1 (short) S 2"); err == nil {
		t.Error("a short stat line was accepted")
	}
}

func TestReadMemorySelf(t *testing.T) {
	m, err := readMemory(os.Getpid())
	if err != nil {
		t.Skip("no /proc:", err)
	}
	if m.RSS <= 0 || m.Peak < m.RSS {
		t.Errorf("own memory %+v; want RSS > 0, peak at least RSS", m)
	}
	if _, err := os.Stat("/proc/self/smaps_rollup"); err == nil && (!m.HasPSS || m.PSS <= 0) {
		t.Errorf("smaps_rollup exists but PSS %d (read: %v)", m.PSS, m.HasPSS)
	}
}
