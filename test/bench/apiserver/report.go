package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/shepherd-lab/shepherd/test/bench/internal/benchutil"
)

// Targets the figures are held to.
const (
	targetCreateRatio = 0.60                  // apiserver creates/s over raw etcd txns/s, at least
	targetListRatio   = 1.5                   // apiserver LIST time over raw etcd range time, at most
	targetWatchP99    = 50 * time.Millisecond // watch delivery p99, at most
)

// results are one run's figures.
type results struct {
	Config         config
	Machine        benchutil.Machine
	PodStoredBytes int
	Creates        []createResult
	// PodsCreated and Events count pod creates through the apiserver before
	// the GET phase, and the events it had stored by then.
	PodsCreated, Events int64
	Get, RawGet         benchutil.Latencies
	List                *listResult
	Watch               *watchResult
	Warnings            []warningCount
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }

func mb(n int) string {
	if n < 1e6 {
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}

// print writes the report.
func (r *results) print(out io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	m := r.Machine
	passed, targets := 0, 0
	judge := func(ok bool) string {
		targets++
		if ok {
			passed++
		}
		return benchutil.PassMiss(ok)
	}

	p("Shepherd apiserver benchmark")
	p("machine    %s/%s, %s, NumCPU %d, GOMAXPROCS %d, %s", m.OS, m.Arch, m.CPUModel, m.NumCPU, m.GOMAXPROCS, m.GoVersion)
	p("load       average %s at start, %s at end (other work on the machine skews every figure)", m.LoadBefore, m.LoadAfter)
	p("etcd       embedded in this process, fsync on, data dir on %s (%s)", m.DataDirFS, m.DataDir)
	p("apiserver  in this process (apiserver.Run), HTTP/1.1 on loopback; clients in this process too, all sharing the CPUs")
	p("client     client-go, rest.Config QPS -1 (no client rate limit); its typed clients negotiate protobuf")
	jsonPerPod := 0
	if r.List != nil && r.List.Items > 0 {
		jsonPerPod = r.List.JSONBytes / r.List.Items
	}
	p("pod        2 labels, 1 container (image, port, cpu+memory requests): %d bytes stored (protobuf), ~%d bytes JSON", r.PodStoredBytes, jsonPerPod)
	p("")

	p("1. CREATE, pods/s. apiserver: client-go Pods(ns).Create. raw: etcd txn If(ModRevision(key)=0) Then(Put(key, %d random bytes)).", r.PodStoredBytes)
	p("   %d warm-up ops (unmeasured) before each measurement.", r.Config.Warmup)
	p("   %-5s %6s %12s %12s %7s %8s %6s  %s", "conc", "ops", "apiserver", "raw etcd", "ratio", "target", "", "CPU/op: apiserver, raw (whole process)")
	for _, c := range r.Creates {
		ratio := c.APIServer / c.Raw
		p("   %-5d %6d %10.1f/s %10.1f/s %7.2f %8s  %s  %4dµs, %4dµs", c.Concurrency, c.Ops, c.APIServer, c.Raw, ratio,
			fmt.Sprintf(">=%.2f", targetCreateRatio), judge(ratio >= targetCreateRatio),
			c.APIServerCPU.Microseconds(), c.RawCPU.Microseconds())
	}
	p("   The apiserver also records a Created event per pod, written in batches (one etcd txn per batch of up to 100):")
	p("   %d events stored for %d pod creates so far.", r.Events, r.PodsCreated)
	p("")

	p("2. GET one pod, %d sequential. client-go Pods(ns).Get without resourceVersion (a quorum read of etcd). No target.", len(r.Get))
	p("   apiserver  p50 %s  p99 %s  max %s", ms(r.Get.Quantile(0.5)), ms(r.Get.Quantile(0.99)), ms(r.Get.Quantile(1)))
	p("   raw etcd   p50 %s  p99 %s  max %s  (Get of the same key)", ms(r.RawGet.Quantile(0.5)), ms(r.RawGet.Quantile(0.99)), ms(r.RawGet.Quantile(1)))
	p("")

	if l := r.List; l != nil {
		p("3. LIST %d pods of namespace %s, unpaginated; median of %d after one cold list.", l.Items, benchNS, r.Config.ListRepeats)
		p("   raw etcd   range /registry/pods/%s/ (WithPrefix, quorum): %d keys, %s of values", benchNS, l.RawItems, mb(l.RawBytes))
		p("              includes gRPC and decoding the RangeResponse protobuf; no pod is decoded")
		p("   HTTP       GET /api/v1/namespaces/%s/pods, Accept application/json, %s body read whole, not decoded", benchNS, mb(l.JSONBytes))
		p("              includes etcd quorum revision read, watch-cache list, JSON assembly, HTTP transfer")
		p("   client-go  CoreV1().Pods(%s).List: the same list as protobuf (what client-go asks for), decoded into a PodList", benchNS)
		p("   %-10s %10s %10s %7s %8s", "", "median", "p100", "ratio", "target")
		p("   %-10s %10s %10s", "raw etcd", ms(l.Raw), ms(l.Rs.Quantile(1)))
		for _, row := range []struct {
			name string
			med  time.Duration
			all  benchutil.Latencies
		}{{"HTTP", l.HTTP, l.HTTPs}, {"client-go", l.ClientGo, l.ClientGos}} {
			ratio := float64(row.med) / float64(l.Raw)
			p("   %-10s %10s %10s %7.2f %8s  %s", row.name, ms(row.med), ms(row.all.Quantile(1)), ratio,
				fmt.Sprintf("<=%.1f", targetListRatio), judge(ratio <= targetListRatio))
		}
		p("   The first (cold) HTTP list, which also JSON-encodes every cached pod once: %s", ms(l.ColdHTTP))
		p("")
	}

	if w := r.Watch; w != nil {
		p("4. WATCH delivery: %d client-go watches on namespace %s (from its current resourceVersion),", w.Watchers, benchNS)
		p("   %d pods created one every %s. Latency: just before the create call -> ADDED event received by a watcher.", w.Pods, r.Config.WatchInterval)
		p("   deliveries %d of %d", w.Delivered, w.Watchers*w.Pods)
		p99 := w.Delivery.Quantile(0.99)
		p("   p50 %s  p99 %s  max %s   target p99 <=%s  %s", ms(w.Delivery.Quantile(0.5)), ms(p99), ms(w.Delivery.Quantile(1)),
			ms(targetWatchP99), judge(w.Delivered == w.Watchers*w.Pods && p99 <= targetWatchP99))
		p("   where it goes: create call itself           p50 %s  p99 %s", ms(w.Create.Quantile(0.5)), ms(w.Create.Quantile(0.99)))
		p("                  first watcher to get a pod   p50 %s  p99 %s", ms(w.First.Quantile(0.5)), ms(w.First.Quantile(0.99)))
		p("                  first -> last watcher        p50 %s  p99 %s  (fan-out, incl. client-side protobuf decode)", ms(w.Spread.Quantile(0.5)), ms(w.Spread.Quantile(0.99)))
		p("")
	}

	if len(r.Warnings) > 0 {
		p("apiserver and etcd warnings logged during the run (each printed once on stderr):")
		for _, w := range r.Warnings {
			p("   %6d x %q", w.Count, w.Message)
		}
		p("")
	}
	p("targets met: %d of %d", passed, targets)
}

// warnLog is a slog handler that passes each distinct warning message on
// once and counts repeats, so a flood of identical warnings under load
// becomes one number in the report rather than thousands of lines.
type warnLog struct {
	state *warnState
	next  slog.Handler
}

type warnState struct {
	mu     sync.Mutex
	counts map[string]int
	order  []string
}

type warningCount struct {
	Message string
	Count   int
}

func (h warnLog) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (h warnLog) Handle(ctx context.Context, r slog.Record) error {
	s := h.state
	s.mu.Lock()
	n := s.counts[r.Message]
	s.counts[r.Message] = n + 1
	if n == 0 {
		s.order = append(s.order, r.Message)
	}
	s.mu.Unlock()
	if n > 0 {
		return nil
	}
	return h.next.Handle(ctx, r)
}

func (h warnLog) WithAttrs(a []slog.Attr) slog.Handler {
	return warnLog{state: h.state, next: h.next.WithAttrs(a)}
}

func (h warnLog) WithGroup(name string) slog.Handler {
	return warnLog{state: h.state, next: h.next.WithGroup(name)}
}

func (s *warnState) summary() []warningCount {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]warningCount, 0, len(s.order))
	for _, m := range s.order {
		out = append(out, warningCount{Message: m, Count: s.counts[m]})
	}
	return out
}
