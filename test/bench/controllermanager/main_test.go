package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
)

// TestQuickRun runs the whole benchmark with -quick (10 hollow nodes, 100
// replicas), so the program is known to build and run, the four binaries
// included. It checks that every step was measured and that the
// controllers kept the rules, never how fast: benchmarks do not gate
// tests.
func TestQuickRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the apiserver, scheduler, controller-manager and a hollow kubelet")
	}
	cfg, err := parseFlags([]string{"-quick", "-tmpdir=" + t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	var out bytes.Buffer
	res, err := run(ctx, cfg, &out)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	n := cfg.Replicas

	if res.Setup.Build <= 0 || res.Setup.APIReady <= 0 || res.Setup.NodesReady <= 0 || res.Setup.CMLeads <= 0 || res.Setup.SchedLeads <= 0 {
		t.Errorf("setup %+v; want every time > 0", res.Setup)
	}
	if res.Setup.NodesListed != cfg.Nodes {
		t.Errorf("%d nodes listed, want %d", res.Setup.NodesListed, cfg.Nodes)
	}
	if s := res.Strategy; !s.Defaulted || s.Type != string(appsv1.RollingUpdateDeploymentStrategyType) || s.Surge != 25 || s.Unavailable != 25 {
		t.Errorf("strategy %+v; want RollingUpdate defaulted to 25%%/25%% = 25 and 25 pods", s)
	}
	for _, ph := range []*phase{&res.Create, &res.Rollout, &res.Delete} {
		if !ph.Done || ph.Call <= 0 || ph.Wall < ph.took() {
			t.Errorf("%s: done %v, call %v, took %v in a step of %v", ph.Name, ph.Done, ph.Call, ph.took(), ph.Wall)
		}
		var last time.Duration
		for _, g := range ph.Goals {
			if !g.Met || g.After <= 0 {
				t.Errorf("%s: goal %q met %v after %v; want met, after > 0", ph.Name, g.Name, g.Met, g.After)
			}
			last = max(last, g.After)
		}
		if ph.took() != last {
			t.Errorf("%s took %v, its last goal %v", ph.Name, ph.took(), last)
		}
		if ph.CPU["controller-manager"] <= 0 && runtime.GOOS == "linux" {
			t.Errorf("%s: controller-manager CPU %v; want > 0", ph.Name, ph.CPU["controller-manager"])
		}
	}
	// The create's goals come in causal order: a pod is created, bound,
	// then Running.
	g := res.Create.Goals
	if !(g[0].After <= g[1].After && g[1].After <= g[2].After && g[2].After <= g[3].After) {
		t.Errorf("create goals out of order: %+v", g)
	}
	if w := res.Create.Window; w.Created != n || w.Deleted != 0 || w.MaxLive != n || w.MinAvailable != 0 {
		t.Errorf("create window %+v; want %d created, none deleted, at most %d, at least 0 available", w, n, n)
	}
	if w := res.Rollout.Window; w.Created != n || w.Deleted != n || w.MaxLive < n || w.MinAvailable > n {
		t.Errorf("rollout window %+v; want %d created and %d deleted, at most >= %d, at least <= %d", w, n, n, n, n)
	}
	if w := res.Delete.Window; w.Deleted != n || w.Created != 0 {
		t.Errorf("delete window %+v; want %d deleted, none created", w, n)
	}
	for _, ph := range []*phase{&res.Create, &res.Rollout} {
		su := ph.Startup
		if su == nil || su.Pods != n || len(su.Latency) != n || len(su.ToBound) != n || su.Latency.Quantile(1) <= 0 {
			t.Errorf("%s startup %+v; want %d pods, each with its latencies", ph.Name, su, n)
		}
	}
	if f := res.Final; f.Pods != n || f.NewPods != n || f.RunningReady != n || f.OwnedByNewRS != n || len(f.ReplicaSets) != 2 {
		t.Errorf("final state %+v; want %d new pods Running, Ready and owned by the new ReplicaSet, 2 ReplicaSets", f, n)
	}
	adds := 0.0
	for _, q := range res.Queues {
		if len(q.Adds) != 3 {
			t.Errorf("queue %s: adds for %d steps, want 3", q.Name, len(q.Adds))
			continue
		}
		adds += q.Adds[0]
	}
	if adds <= 0 || res.Sampler.Scrapes == 0 {
		t.Errorf("workqueues %+v, %d depth scrapes; want adds counted in the create step", res.Queues, res.Sampler.Scrapes)
	}
	if len(res.Procs) != 4 {
		t.Errorf("%d processes reported, want 4", len(res.Procs))
	}
	for _, p := range res.Procs {
		if runtime.GOOS == "linux" && (p.Memory.Peak <= 0 || p.Memory.Peak < p.Memory.RSS || p.CPUTotal <= 0) {
			t.Errorf("%s: memory %+v, CPU %v; want peak >= resident > 0, CPU > 0", p.Name, p.Memory, p.CPUTotal)
		}
	}
	if len(res.Violations) > 0 {
		t.Errorf("violations: %q", res.Violations)
	}
	if res.Cleanup == nil || res.Cleanup.dirty() {
		t.Errorf("cleanup %+v; want everything stopped and removed", res.Cleanup)
	}
	if !bytes.Contains(out.Bytes(), []byte("targets:")) {
		t.Error("the report has no summary line")
	}
}

// podEvent makes a pod as a watch would deliver it.
func podEvent(name string, newTemplate bool, node string, running, terminating bool) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name)},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "app"}}},
	}
	if newTemplate {
		p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: rolloutEnv, Value: "2"}}
	}
	if running {
		p.Status.Phase = corev1.PodRunning
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	}
	if terminating {
		p.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	}
	return p
}

// TestTrackerWindow replays a small rolling update (2 replicas, surge 1,
// unavailable 0) through the tracker and checks the counts, the window's
// extremes and the goals it derives.
func TestTrackerWindow(t *testing.T) {
	tr := &tracker{pods: map[string]*podState{}, rs: map[string]*rsState{}}
	at := time.Now()
	next := func() time.Time { at = at.Add(time.Second); return at }
	for _, name := range []string{"a", "b"} {
		tr.observePod(watch.Added, podEvent(name, false, "", false, false), next())
		tr.observePod(watch.Modified, podEvent(name, false, "n1", false, false), next())
		tr.observePod(watch.Modified, podEvent(name, false, "n1", true, false), next())
	}
	if c := tr.cur; c.Pods != 2 || c.Live != 2 || c.Old != 2 || c.Running != 2 || c.Available != 2 || c.New != 0 {
		t.Fatalf("after the create: %+v", c)
	}
	start := next()
	oldGone := &goal{name: "old gone", cond: func(t *tracker) bool { return t.cur.Old == 0 }}
	newRunning := &goal{name: "new running", cond: func(t *tracker) bool { return t.cur.NewRunning >= 2 }}
	tr.begin(start, []*goal{oldGone, newRunning})
	tr.observeReplicaSet(watch.Added, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "rs-new"}}, next())
	tr.observePod(watch.Added, podEvent("c", true, "", false, false), next()) // surge: 3 live
	tr.observePod(watch.Modified, podEvent("c", true, "n1", true, false), next())
	tr.observePod(watch.Modified, podEvent("a", false, "n1", true, true), next()) // being deleted: 2 live, 3 in etcd
	tr.observePod(watch.Added, podEvent("d", true, "", false, false), next())     // 3 live, 4 in etcd
	tr.observePod(watch.Deleted, podEvent("a", false, "n1", true, true), next())
	tr.observePod(watch.Modified, podEvent("d", true, "n1", true, false), next())
	tr.observePod(watch.Deleted, podEvent("b", false, "n1", true, false), next())
	wantOldGone := at
	// A replayed event of a pod already gone changes nothing.
	tr.observePod(watch.Modified, podEvent("b", false, "n1", true, false), next())
	w, goals := tr.end()

	if c := tr.cur; c.Pods != 2 || c.Live != 2 || c.New != 2 || c.Old != 0 || c.NewRunning != 2 || c.Available != 2 {
		t.Errorf("after the rollout: %+v", c)
	}
	if w.MaxLive != 3 || w.MaxPods != 4 || w.MinAvailable != 2 || w.Created != 2 || w.Deleted != 2 {
		t.Errorf("window %+v; want at most 3 live and 4 in etcd, at least 2 available, 2 created, 2 deleted", w)
	}
	if w.MaxLiveAt.After != 2*time.Second || w.MaxLiveAt.Counts.Live != 3 || w.MaxLiveAt.ReplicaSets == "none seen" {
		t.Errorf("evidence of the most live pods %+v; want 2s after the start (the first surge pod), with the ReplicaSets", w.MaxLiveAt)
	}
	if w.MaxPodsAt.After != 5*time.Second {
		t.Errorf("the most pods in etcd reached after %v, want 5s", w.MaxPodsAt.After)
	}
	if goals[0].at != wantOldGone || goals[1].at.IsZero() || goals[1].at.After(wantOldGone) {
		t.Errorf("goals met at %v and %v; want old gone at %v, new running before", goals[0].at, goals[1].at, wantOldGone)
	}
}

func TestDescribeStrategy(t *testing.T) {
	pct := intstr.FromString("25%")
	d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Strategy: appsv1.DeploymentStrategy{
		Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &pct, MaxUnavailable: &pct},
	}}}
	for _, c := range []struct{ replicas, surge, unavail int }{{1000, 250, 250}, {100, 25, 25}, {10, 3, 2}, {1, 1, 0}} {
		s := describeStrategy(d, c.replicas)
		if s.Surge != c.surge || s.Unavailable != c.unavail || !s.Defaulted {
			t.Errorf("%d replicas: %+v; want surge %d (rounded up), unavailable %d (down)", c.replicas, s, c.surge, c.unavail)
		}
	}
	if s := describeStrategy(&appsv1.Deployment{}, 1000); s.Defaulted || s.Surge != 250 || s.Unavailable != 250 {
		t.Errorf("no strategy: %+v; want Kubernetes' defaults assumed and said so", s)
	}
}

func TestQueueTable(t *testing.T) {
	at := func(adds, retries float64) scrape {
		return parseScrape(fmt.Sprintf(`# TYPE workqueue_adds_total counter
workqueue_adds_total{name="deployment"} %v
workqueue_retries_total{name="deployment"} %v
workqueue_queue_duration_seconds_sum{name="deployment"} 2
workqueue_queue_duration_seconds_count{name="deployment"} 4
leader_election_master_status{name="kube-controller-manager"} 1
`, adds, retries))
	}
	rows := queueTable([]scrape{at(1, 0), at(11, 2), nil}, map[string]float64{"deployment": 7, "replicaset": 3})
	if len(rows) != 2 || rows[0].Name != "deployment" || rows[1].Name != "replicaset" {
		t.Fatalf("rows %+v; want deployment and replicaset", rows)
	}
	d := rows[0]
	if len(d.Adds) != 2 || d.Adds[0] != 10 || d.Retries[0] != 2 || d.MaxDepth != 7 {
		t.Errorf("deployment row %+v; want 10 adds and 2 retries in the first step, depth 7", d)
	}
	if !at(0, 0).leads("kube-controller-manager") || at(0, 0).leads("kube-scheduler") {
		t.Error("leads misread leader_election_master_status")
	}
}

func TestProcParsing(t *testing.T) {
	cpu, err := parseStatCPU("1234 (shepherd (x) y) S 77 1234 1234 0 -1 4194560 100 0 0 0 250 130 0 0 20 0 8 0 100 0 0")
	if err != nil || cpu != 3800*time.Millisecond {
		t.Errorf("cpu %v, %v; want 3.8s (380 ticks)", cpu, err)
	}
	m := parseStatusMemory([]byte("Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\nThreads:\t8\n"))
	if m.Peak != 2<<20 || m.RSS != 1<<20 {
		t.Errorf("memory %+v; want peak 2 MiB, RSS 1 MiB", m)
	}
	if _, err := os.Stat("/proc/self/status"); err == nil {
		self, err := procMemory(os.Getpid())
		if err != nil || self.Peak < self.RSS || self.RSS <= 0 {
			t.Errorf("own memory %+v, %v", self, err)
		}
	}
}

// TestCheckWindows checks that a rolling update past its surge or under
// its availability, and a create that overshot, are violations that name
// the figures and the evidence, and that a run within them has none.
func TestCheckWindows(t *testing.T) {
	res := &results{Config: config{Replicas: 1000}, Strategy: strategy{Surge: 250, Unavailable: 250}}
	res.Create = phase{Name: "create", Done: true, Window: window{MaxLive: 1000}}
	res.Rollout = phase{Name: "rolling update", Done: true, Window: window{MaxLive: 1250, MinAvailable: 750}}
	b := &bench{cfg: res.Config, res: res}
	b.checkWindows()
	if len(res.Violations) != 0 {
		t.Fatalf("a run at its limits: %q", res.Violations)
	}
	res.Create.Window.MaxLive = 1001
	res.Rollout.Window.MaxLive = 1251
	res.Rollout.Window.MinAvailable = 749
	res.Rollout.Window.MinAvailableAt = extreme{After: 1500 * time.Millisecond, Revision: "4242", ReplicaSets: "rs-a spec 500"}
	b.checkWindows()
	if len(res.Violations) != 3 {
		t.Fatalf("violations %q; want 3", res.Violations)
	}
	for i, want := range []string{"1001 pods", "1251 pods not being deleted", "only 749 pods available"} {
		if !bytes.Contains([]byte(res.Violations[i]), []byte(want)) {
			t.Errorf("violation %d %q does not say %q", i, res.Violations[i], want)
		}
	}
	if v := res.Violations[2]; !bytes.Contains([]byte(v), []byte("revision 4242")) || !bytes.Contains([]byte(v), []byte("rs-a spec 500")) || !bytes.Contains([]byte(v), []byte("1.500s")) {
		t.Errorf("violation %q lacks its evidence: when, the revision, the ReplicaSets", v)
	}
	if res.invalid() == nil {
		t.Error("a run with violations is valid")
	}
}
