package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/shepherd-lab/shepherd/test/bench/internal/benchutil"
)

// binaries are the commands a run starts, built or given by -bin-dir.
var binaries = []string{"shepherd-apiserver", "shepherd-scheduler", "shepherd-controller-manager", "shepherd-kubelet"}

// nodePrefix names the hollow nodes: <prefix>-0 ... <prefix>-<n-1>.
const nodePrefix = "hollow"

// nodePods is a node's pod capacity (Kubernetes' default, which the
// hollow kubelet reports).
const nodePods = 110

// cluster is the run's four processes and everything they keep in the
// run's one temporary directory. close undoes all of it.
type cluster struct {
	cfg        config
	dir        string // the run's directory: everything below is in it
	binDir     string
	apiDataDir string // the embedded etcd's
	logDir     string

	apiURL, etcdURL, schedURL, cmURL string

	api, sched, cm, kubelet *proc
	client                  kubernetes.Interface
	http                    *http.Client

	closed bool
}

// setupTimes are how long setting the cluster up took, each from the
// start of the process it concerns.
type setupTimes struct {
	BinSource   string
	Build       time.Duration // 0 with -bin-dir
	APIReady    time.Duration // apiserver start -> /readyz
	NodesReady  time.Duration // kubelet start -> every hollow Node Ready
	SchedLeads  time.Duration // scheduler start -> leading, by its /metrics
	CMLeads     time.Duration // controller-manager start -> leading, by its /metrics
	NodesListed int
}

// newCluster makes the run's temporary directory. Whatever happens next,
// the caller defers close.
func newCluster(cfg config) (*cluster, error) {
	dir, err := os.MkdirTemp(cfg.TempDir, "shepherd-bench-cm-")
	if err != nil {
		return nil, err
	}
	if d, err := filepath.EvalSymlinks(dir); err == nil {
		dir = d // so that it compares equal to /proc's paths
	}
	c := &cluster{
		cfg: cfg, dir: dir,
		binDir:     filepath.Join(dir, "bin"),
		apiDataDir: filepath.Join(dir, "apiserver"),
		logDir:     filepath.Join(dir, "logs"),
		http:       &http.Client{Timeout: 10 * time.Second},
	}
	for _, d := range []string{c.binDir, c.logDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	return c, nil
}

func (c *cluster) bin(name string) string { return filepath.Join(c.binDir, name) }

// setup builds the binaries and starts the apiserver, the hollow kubelet,
// the scheduler and the controller-manager, in that order, waiting for
// each: the apiserver ready, every node Ready, the scheduler and the
// controller-manager leading.
func (c *cluster) setup(ctx context.Context, s *setupTimes) error {
	if err := c.setupBinaries(ctx, s); err != nil {
		return err
	}
	ports, err := freePorts(5)
	if err != nil {
		return err
	}
	c.apiURL = "http://127.0.0.1:" + strconv.Itoa(ports[0])
	c.etcdURL = "http://127.0.0.1:" + strconv.Itoa(ports[1])
	c.schedURL = "http://127.0.0.1:" + strconv.Itoa(ports[3])
	c.cmURL = "http://127.0.0.1:" + strconv.Itoa(ports[4])

	if c.api, err = c.start("apiserver", "shepherd-apiserver",
		"--data-dir", c.apiDataDir,
		"--port", strconv.Itoa(ports[0]),
		"--etcd-listen-client-url", c.etcdURL,
		"--etcd-listen-peer-url", "http://127.0.0.1:"+strconv.Itoa(ports[2])); err != nil {
		return err
	}
	if err := c.waitHTTP(ctx, c.api, c.apiURL+"/readyz", time.Minute); err != nil {
		return err
	}
	s.APIReady = time.Since(c.api.Started)
	if c.client, err = kubernetes.NewForConfig(&rest.Config{Host: c.apiURL, QPS: -1, Timeout: 60 * time.Second}); err != nil {
		return err
	}

	if c.kubelet, err = c.start("hollow kubelet", "shepherd-kubelet",
		"--runtime", "hollow",
		"--hollow-nodes", strconv.Itoa(c.cfg.Nodes),
		"--node-name", nodePrefix,
		"--node-ip", "127.0.0.1",
		"--etcd-servers", c.etcdURL,
		"--root-dir", filepath.Join(c.dir, "kubelet")); err != nil {
		return err
	}
	if s.NodesListed, err = c.waitNodesReady(ctx, 2*time.Minute); err != nil {
		return err
	}
	s.NodesReady = time.Since(c.kubelet.Started)

	if c.sched, err = c.start("scheduler", "shepherd-scheduler",
		"--etcd-servers", c.etcdURL, "--port", strconv.Itoa(ports[3])); err != nil {
		return err
	}
	if s.SchedLeads, err = c.waitLeading(ctx, c.sched, c.schedURL, "kube-scheduler"); err != nil {
		return err
	}
	if c.cm, err = c.start("controller-manager", "shepherd-controller-manager",
		"--etcd-servers", c.etcdURL, "--port", strconv.Itoa(ports[4])); err != nil {
		return err
	}
	s.CMLeads, err = c.waitLeading(ctx, c.cm, c.cmURL, "kube-controller-manager")
	return err
}

// setupBinaries builds the four commands into binDir, or copies them there
// from -bin-dir.
func (c *cluster) setupBinaries(ctx context.Context, s *setupTimes) error {
	if c.cfg.BinDir != "" {
		for _, b := range binaries {
			data, err := os.ReadFile(filepath.Join(c.cfg.BinDir, b))
			if err != nil {
				return fmt.Errorf("-bin-dir: %w", err)
			}
			if err := os.WriteFile(c.bin(b), data, 0o755); err != nil {
				return err
			}
		}
		s.BinSource = c.cfg.BinDir + " (-bin-dir)"
		return nil
	}
	root, err := benchutil.ModuleRoot("-bin-dir")
	if err != nil {
		return err
	}
	goBin, err := benchutil.GoCommand("-bin-dir")
	if err != nil {
		return err
	}
	args := []string{"build", "-o", c.binDir + "/"}
	for _, b := range binaries {
		args = append(args, "./cmd/"+b)
	}
	begin := time.Now()
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	s.Build = time.Since(begin)
	s.BinSource = "built from " + root
	return nil
}

func (c *cluster) start(name, binary string, args ...string) (*proc, error) {
	return benchutil.StartProc(name, c.bin(binary), filepath.Join(c.logDir, binary+".log"), args...)
}

// procs are the running components, in the report's order.
func (c *cluster) procs() []*proc {
	var out []*proc
	for _, p := range []*proc{c.cm, c.sched, c.api, c.kubelet} {
		if p != nil {
			out = append(out, p)
		}
	}
	return out
}

// aliveErr says which component has exited, if one has.
func (c *cluster) aliveErr() error {
	for _, p := range c.procs() {
		if err := p.AliveErr(); err != nil {
			return err
		}
	}
	return nil
}

// waitHTTP polls url until it answers 200, p exits, or timeout passes.
func (c *cluster) waitHTTP(ctx context.Context, p *proc, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := c.http.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = errors.New(resp.Status)
		}
		if err := p.AliveErr(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the %s is not answering %s after %v (%v); its log ends:\n%s", p.Name, url, timeout, err, p.LogTail(40))
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}

// waitNodesReady waits for every hollow node to be registered and Ready,
// and returns how many nodes the apiserver lists.
func (c *cluster) waitNodesReady(ctx context.Context, timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	for {
		list, err := c.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		ready := 0
		if err == nil {
			for i := range list.Items {
				if strings.HasPrefix(list.Items[i].Name, nodePrefix+"-") && nodeReady(&list.Items[i]) {
					ready++
				}
			}
			if ready == c.cfg.Nodes {
				return len(list.Items), nil
			}
		}
		if err := c.kubelet.AliveErr(); err != nil {
			return 0, err
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%d of %d hollow nodes Ready after %v (last list error: %v); the kubelet's log ends:\n%s",
				ready, c.cfg.Nodes, timeout, err, c.kubelet.LogTail(40))
		}
		if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
			return 0, err
		}
	}
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// waitLeading waits until p's /metrics at base shows
// leader_election_master_status{name=<name>} 1, and returns the time from
// p's start.
func (c *cluster) waitLeading(ctx context.Context, p *proc, base, name string) (time.Duration, error) {
	deadline := time.Now().Add(2 * time.Minute)
	var lastErr error
	for {
		sc, err := getMetrics(ctx, c.http, base+"/metrics")
		if err == nil && sc.leads(name) {
			return time.Since(p.Started), nil
		}
		if err != nil {
			lastErr = err
		} else {
			lastErr = fmt.Errorf("no %s{name=%q} 1 on /metrics yet", leaderMetric, name)
		}
		if err := p.AliveErr(); err != nil {
			return 0, err
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("the %s did not lead within 2 minutes (%v); its log ends:\n%s", p.Name, lastErr, p.LogTail(40))
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return 0, err
		}
	}
}

// cleanup is what close did.
type cleanup struct {
	Stopped []string // how each process ended
	Killed  []int    // processes of the run's binaries still alive after that
	Removed bool     // the run's directory is gone
	Errors  []string
}

func (r *cleanup) dirty() bool { return len(r.Killed) > 0 || !r.Removed || len(r.Errors) > 0 }

// close stops the processes (the controllers first, etcd's apiserver
// last), kills any process of the run's binaries still alive, and removes
// the run's directory. Only the first call does anything.
func (c *cluster) close() *cleanup {
	if c.closed {
		return nil
	}
	c.closed = true
	r := &cleanup{}
	for _, p := range c.procs() {
		r.Stopped = append(r.Stopped, p.Name+": "+p.Stop(15*time.Second))
	}
	for _, pid := range leftoverPIDs(c.dir) {
		r.Killed = append(r.Killed, pid)
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			r.Errors = append(r.Errors, fmt.Sprintf("kill %d: %v", pid, err))
		}
	}
	if len(r.Killed) > 0 {
		time.Sleep(200 * time.Millisecond) // for the kernel to release their files
	}
	if err := os.RemoveAll(c.dir); err != nil {
		r.Errors = append(r.Errors, fmt.Sprintf("remove %s: %v", c.dir, err))
	} else {
		r.Removed = true
	}
	return r
}

// freePorts asks the kernel for n free loopback ports. Another process
// could take one before a component listens; then that fails to start and
// the run says so.
func freePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// sleepCtx sleeps for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
