// Command apiserver benchmarks Shepherd's apiserver against the bare etcd it
// runs on, in one process on one machine: pod creates at concurrency 1 and
// 16, single-pod GET latency, one unpaginated LIST of many pods, and watch
// delivery latency to many watchers. The etcd is embedded and fsyncs as in
// production. The report sets each figure beside its raw-etcd baseline and
// its target; the command exits 0 whether or not the targets are met,
// because a benchmark reports and does not gate.
//
// Usage:
//
//	go run ./test/bench/apiserver [-quick] [-cpuprofile PREFIX] [flags]
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/shepherd-lab/shepherd/apiserver"
	"github.com/shepherd-lab/shepherd/storage/embedded"
	"github.com/shepherd-lab/shepherd/storage/rawetcd"
	"github.com/shepherd-lab/shepherd/test/bench/internal/benchutil"
)

// config is what one run measures.
type config struct {
	Creates1, Creates16 int // measured creates at concurrency 1 and 16
	Warmup              int // unmeasured operations before each measurement
	Gets                int
	ListPods            int
	ListRepeats         int
	Watchers            int
	WatchPods           int
	WatchInterval       time.Duration
	// CPUProfile, when set, is the path prefix of one CPU profile per
	// measured apiserver phase (PREFIX-create-c1.pprof, ...).
	CPUProfile string
	// TempDir is where etcd's data directory is made; os.TempDir() when
	// empty. Its disk's fsync latency bounds every write figure.
	TempDir string
}

func defaultConfig() config {
	return config{
		Creates1: 2000, Creates16: 8000, Warmup: 100,
		Gets:     2000,
		ListPods: 10000, ListRepeats: 10,
		Watchers: 100, WatchPods: 200, WatchInterval: 10 * time.Millisecond,
	}
}

// quickConfig is a smoke run: every phase, small numbers.
func quickConfig() config {
	return config{
		Creates1: 200, Creates16: 800, Warmup: 20,
		Gets:     300,
		ListPods: 1000, ListRepeats: 5,
		Watchers: 20, WatchPods: 50, WatchInterval: 10 * time.Millisecond,
	}
}

// defineFlags declares the command's flags, besides -quick, on cfg.
func defineFlags(fs *flag.FlagSet, cfg *config) {
	fs.IntVar(&cfg.Creates1, "creates1", cfg.Creates1, "pod creates measured at concurrency 1")
	fs.IntVar(&cfg.Creates16, "creates16", cfg.Creates16, "pod creates measured at concurrency 16")
	fs.IntVar(&cfg.Warmup, "warmup", cfg.Warmup, "unmeasured operations before each create measurement")
	fs.IntVar(&cfg.Gets, "gets", cfg.Gets, "sequential GETs of one pod")
	fs.IntVar(&cfg.ListPods, "list-pods", cfg.ListPods, "pods in the listed namespace")
	fs.IntVar(&cfg.ListRepeats, "list-repeats", cfg.ListRepeats, "timed LISTs of each kind")
	fs.IntVar(&cfg.Watchers, "watchers", cfg.Watchers, "concurrent pod watches")
	fs.IntVar(&cfg.WatchPods, "watch-pods", cfg.WatchPods, "pods created while watched")
	fs.DurationVar(&cfg.WatchInterval, "watch-interval", cfg.WatchInterval, "pace of the watched creates")
	fs.StringVar(&cfg.CPUProfile, "cpuprofile", cfg.CPUProfile, "write one CPU profile per apiserver phase to `PREFIX`-<phase>.pprof")
	fs.StringVar(&cfg.TempDir, "tmpdir", cfg.TempDir, "parent `dir` of etcd's data directory (default $TMPDIR)")
}

// checkFlags says what is wrong with a parsed command line, if anything.
func checkFlags(_ *flag.FlagSet, cfg config) error {
	if cfg.Creates1 <= 0 || cfg.Creates16 <= 0 || cfg.Warmup < 0 || cfg.Gets <= 0 || cfg.ListPods <= 0 ||
		cfg.ListRepeats <= 0 || cfg.Watchers <= 0 || cfg.WatchPods <= 0 || cfg.WatchInterval <= 0 {
		return errors.New("every count and the watch interval must be positive (-warmup may be 0)")
	}
	return nil
}

// parseFlags reads the command line; with -quick, the flags not given take
// their quick values.
func parseFlags(args []string) (config, error) {
	return benchutil.ParseFlags(args, "apiserver-bench", defaultConfig(), quickConfig(), defineFlags, checkFlags)
}

func main() {
	benchutil.Main("apiserver", parseFlags, run)
}

// Namespaces and key prefixes. Measured creates and the listed pods live in
// benchNS; warm-up creates and the GET target in warmNS, so the listed
// namespace holds exactly what the report says. Raw etcd keys live outside
// /registry, where no apiserver cache looks.
const (
	benchNS   = "bench"
	warmNS    = "bench-warmup"
	rawPrefix = "/bench-raw/pods/"
)

// bench is one run's shared state.
type bench struct {
	cfg      config
	cs       kubernetes.Interface
	url      string
	http     *http.Client
	raw      *rawetcd.Client
	warnings *warnState
	dataDir  string // etcd's
	// value has the byte size of a stored pod: what raw creates write.
	value []byte
}

// run starts etcd and the apiserver, measures every phase, prints the
// report to out and returns the figures.
func run(ctx context.Context, cfg config, out io.Writer) (*results, error) {
	b, stop, err := start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer stop()
	res := &results{Config: cfg, Machine: benchutil.MachineFacts(b.dataDir)}
	if err := b.measureAll(ctx, res); err != nil {
		return nil, err
	}
	res.Warnings = b.warnings.summary()
	res.Machine.LoadAfter = benchutil.LoadAverage()
	res.print(out)
	return res, nil
}

// start runs an embedded etcd (in a new temporary directory) and an
// apiserver on it, connects the clients and creates the namespaces. stop
// undoes it all.
func start(ctx context.Context, cfg config) (b *bench, stop func(), err error) {
	var cleanups []func()
	stop = func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
	defer func() {
		if err != nil {
			stop()
		}
	}()
	warnings := &warnState{counts: map[string]int{}}
	log := slog.New(warnLog{state: warnings, next: slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})})

	dir, err := os.MkdirTemp(cfg.TempDir, "shepherd-bench-")
	if err != nil {
		return nil, nil, err
	}
	cleanups = append(cleanups, func() { os.RemoveAll(dir) })
	etcdDir := filepath.Join(dir, "etcd")
	etcd, err := embedded.Start(embedded.Config{
		DataDir:   etcdDir,
		ClientURL: "http://127.0.0.1:0",
		PeerURL:   "http://127.0.0.1:0",
		Logger:    log,
	})
	if err != nil {
		return nil, nil, err
	}
	cleanups = append(cleanups, etcd.Close)

	srvCtx, stopServer := context.WithCancel(context.Background())
	o := apiserver.DefaultOptions()
	o.Port = 0
	o.EtcdServers = etcd.Endpoints()
	o.DataDir = dir
	o.Logger = log
	ready := make(chan apiserver.Serving, 1)
	done := make(chan error, 1)
	go func() { done <- apiserver.Run(srvCtx, o, func(s apiserver.Serving) { ready <- s }) }()
	cleanups = append(cleanups, func() {
		stopServer()
		if err := <-done; err != nil {
			fmt.Fprintln(os.Stderr, "apiserver:", err)
		}
	})
	var serving apiserver.Serving
	select {
	case serving = <-ready:
	case err := <-done:
		done <- nil // the cleanup's wait must not block
		return nil, nil, fmt.Errorf("apiserver did not start: %w", err)
	case <-time.After(60 * time.Second):
		return nil, nil, errors.New("apiserver did not start within 60s")
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}

	raw, err := rawetcd.Dial(ctx, etcd.Endpoints())
	if err != nil {
		return nil, nil, err
	}
	cleanups = append(cleanups, func() { raw.Close() })
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: serving.URL, QPS: -1})
	if err != nil {
		return nil, nil, err
	}
	b = &bench{
		cfg: cfg, cs: cs, url: serving.URL, raw: raw, warnings: warnings, dataDir: etcdDir,
		http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}},
	}
	cleanups = append(cleanups, b.http.CloseIdleConnections)
	if err := b.waitReady(ctx); err != nil {
		return nil, nil, err
	}
	for _, ns := range []string{benchNS, warmNS} {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			return nil, nil, fmt.Errorf("create namespace %s: %w", ns, err)
		}
	}
	return b, stop, nil
}

func (b *bench) measureAll(ctx context.Context, res *results) error {
	// The size of a stored pod, read back from etcd, sizes the raw writes.
	if err := b.createPod(ctx, warmNS, "w0-000000"); err != nil {
		return err
	}
	stored, err := b.raw.Get(ctx, "/registry/pods/"+warmNS+"/w0-000000")
	if err != nil {
		return err
	}
	if len(stored) == 0 {
		return errors.New("the probe pod is not in etcd at /registry/pods/" + warmNS + "/w0-000000")
	}
	res.PodStoredBytes = len(stored)
	b.value = make([]byte, len(stored))
	rand.Read(b.value)

	for _, c := range []struct{ conc, n int }{{1, b.cfg.Creates1}, {16, b.cfg.Creates16}} {
		r, err := b.creates(ctx, c.conc, c.n)
		if err != nil {
			return err
		}
		res.Creates = append(res.Creates, r)
	}
	if res.Events, err = b.raw.Count(ctx, "/registry/events/"); err != nil {
		return err
	}
	res.PodsCreated = int64(b.cfg.Creates1 + b.cfg.Creates16 + 2*b.cfg.Warmup + 1)
	if res.Get, res.RawGet, err = b.gets(ctx); err != nil {
		return err
	}
	if res.List, err = b.lists(ctx); err != nil {
		return err
	}
	if res.Watch, err = b.watches(ctx); err != nil {
		return err
	}
	return nil
}

// waitReady waits until /readyz passes: the watch caches hold full lists.
func (b *bench) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.url+"/readyz", nil)
		if err != nil {
			return err
		}
		resp, err := b.http.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && string(body) == "ok" {
				return nil
			}
			err = fmt.Errorf("%s: %s", resp.Status, body)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("apiserver not ready after 30s: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
