package main

import (
	"bytes"
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/shepherd-lab/shepherd/test/bench/internal/benchutil"
)

// TestQuickRun runs every phase of the benchmark with tiny numbers, so the
// program is known to build and run. It checks that each figure was
// measured, never how fast: benchmarks do not gate tests.
func TestQuickRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts etcd and an apiserver")
	}
	cfg, err := parseFlags([]string{"-quick",
		"-creates1=20", "-creates16=64", "-warmup=5", "-gets=30",
		"-list-pods=100", "-list-repeats=3",
		"-watchers=5", "-watch-pods=10", "-watch-interval=5ms",
		"-tmpdir=" + t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out bytes.Buffer
	res, err := run(ctx, cfg, &out)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}

	if res.PodStoredBytes <= 0 {
		t.Errorf("stored pod size %d, want > 0", res.PodStoredBytes)
	}
	if len(res.Creates) != 2 {
		t.Fatalf("%d create results, want 2 (concurrency 1 and 16)", len(res.Creates))
	}
	for _, c := range res.Creates {
		if !(c.APIServer > 0) || !(c.Raw > 0) {
			t.Errorf("creates at concurrency %d: apiserver %v/s, raw %v/s; want both > 0", c.Concurrency, c.APIServer, c.Raw)
		}
		if runtime.GOOS == "linux" && (c.APIServerCPU <= 0 || c.RawCPU <= 0) {
			t.Errorf("creates at concurrency %d: CPU/op apiserver %v, raw %v; want both > 0", c.Concurrency, c.APIServerCPU, c.RawCPU)
		}
	}
	for name, l := range map[string]benchutil.Latencies{"GET": res.Get, "raw GET": res.RawGet} {
		if len(l) != cfg.Gets || l.Quantile(0.5) <= 0 || l.Quantile(0.99) <= 0 {
			t.Errorf("%s: %d samples, p50 %v, p99 %v; want %d samples > 0", name, len(l), l.Quantile(0.5), l.Quantile(0.99), cfg.Gets)
		}
	}
	if l := res.List; l == nil {
		t.Error("no LIST result")
	} else {
		if l.Items != cfg.ListPods {
			t.Errorf("listed %d pods, want %d", l.Items, cfg.ListPods)
		}
		if l.HTTP <= 0 || l.ClientGo <= 0 || l.Raw <= 0 || l.ColdHTTP <= 0 {
			t.Errorf("LIST medians HTTP %v, client-go %v, raw %v, cold %v; want all > 0", l.HTTP, l.ClientGo, l.Raw, l.ColdHTTP)
		}
	}
	if w := res.Watch; w == nil {
		t.Error("no WATCH result")
	} else {
		if w.Delivered != cfg.Watchers*cfg.WatchPods {
			t.Errorf("%d watch deliveries, want %d", w.Delivered, cfg.Watchers*cfg.WatchPods)
		}
		if w.Delivery.Quantile(0.5) <= 0 || w.Delivery.Quantile(0.99) <= 0 || w.Delivery.Quantile(1) <= 0 {
			t.Errorf("watch delivery p50 %v, p99 %v, max %v; want all > 0", w.Delivery.Quantile(0.5), w.Delivery.Quantile(0.99), w.Delivery.Quantile(1))
		}
	}
	if !bytes.Contains(out.Bytes(), []byte("targets met:")) {
		t.Error("the report has no summary line")
	}
}
