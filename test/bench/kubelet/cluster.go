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
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/shepherd-lab/shepherd/test/bench/internal/benchutil"
)

const (
	nodeName  = "bench-node"
	namespace = "default"
	// benchLabel marks the benchmark's pods; the watch selects on it.
	benchLabel = "shepherd.io/bench"
	benchValue = "kubelet"
	podImage   = "busybox"
	// imageTag is what the busybox archive holds (hack/testimage).
	imageTag = "docker.io/library/busybox:latest"
	// maxPods is the node's pod capacity (Kubernetes' default, 110).
	maxPods = 110
)

// binaries are the commands a run starts, built or given by -bin-dir.
var binaries = []string{"shepherd-apiserver", "shepherd-kubelet", "shepherd-shim"}

// cluster is the run's apiserver and kubelet, and everything they keep in
// the run's one temporary directory. close undoes all of it.
type cluster struct {
	cfg config
	dir string // the run's directory: everything below is in it
	// binDir holds the binaries; the shim sits beside the kubelet, which
	// makes the runtime use it.
	binDir      string
	apiDataDir  string
	kubeletRoot string
	logDir      string
	// cgroupRoot is the kubelet's --cgroup-root, named for this run so
	// that it is neither another kubelet's nor left behind.
	cgroupRoot string

	apiURL, etcdURL, kubeletURL string
	kubeletPort                 int
	api, kubelet                *proc
	client                      kubernetes.Interface
	http                        *http.Client

	closed bool
}

// newCluster makes the run's temporary directory. Whatever happens next,
// the caller defers close.
func newCluster(cfg config) (*cluster, error) {
	dir, err := os.MkdirTemp(cfg.TempDir, "shepherd-bench-kubelet-")
	if err != nil {
		return nil, err
	}
	// Resolved, so that it compares equal to mountinfo's and /proc's paths.
	if d, err := filepath.EvalSymlinks(dir); err == nil {
		dir = d
	}
	c := &cluster{
		cfg:         cfg,
		dir:         dir,
		binDir:      filepath.Join(dir, "bin"),
		apiDataDir:  filepath.Join(dir, "apiserver"),
		kubeletRoot: filepath.Join(dir, "kubelet"),
		logDir:      filepath.Join(dir, "logs"),
		cgroupRoot:  fmt.Sprintf("shepherd-bench-kubelet-%d", os.Getpid()),
		http:        &http.Client{Timeout: 10 * time.Second},
	}
	for _, d := range []string{c.binDir, c.logDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	return c, nil
}

// setup builds (or copies) the binaries, imports the image, starts the
// apiserver and the kubelet, and waits for the Node to be Ready.
func (c *cluster) setup(ctx context.Context, res *results) error {
	if os.Geteuid() != 0 {
		return errors.New("must run as root: the kubelet creates namespaces, mounts and cgroups")
	}
	if err := c.setupBinaries(ctx, res); err != nil {
		return err
	}
	if fi, err := os.Stat(c.bin("shepherd-kubelet")); err == nil {
		res.Setup.KubeletSize = fi.Size()
	}
	if err := c.setupImage(ctx, res); err != nil {
		return err
	}
	if err := c.startAPIServer(ctx, res); err != nil {
		return err
	}
	return c.startKubelet(ctx, res)
}

// setupBinaries builds the three commands into binDir, or copies them
// there from -bin-dir: the runtime finds shepherd-shim beside the kubelet.
func (c *cluster) setupBinaries(ctx context.Context, res *results) error {
	if c.cfg.BinDir != "" {
		for _, b := range binaries {
			if err := copyFile(filepath.Join(c.cfg.BinDir, b), filepath.Join(c.binDir, b), 0o755); err != nil {
				return fmt.Errorf("-bin-dir: %w", err)
			}
		}
		res.Setup.BinSource = c.cfg.BinDir + " (-bin-dir)"
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
	res.Setup.Build = time.Since(begin)
	res.Setup.BinSource = "built from " + root
	return nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, mode)
}

// setupImage imports the busybox archive into the kubelet's image store
// with the kubelet's own `images import`, so the image is warm. Without
// -image-tar it takes _output/images/busybox.tar, or writes one into the
// run's directory with hack/testimage, as `make test-image` does.
func (c *cluster) setupImage(ctx context.Context, res *results) error {
	tar := c.cfg.ImageTar
	switch {
	case tar != "":
		res.Setup.ImageSource = tar + " (-image-tar)"
	default:
		root, err := benchutil.ModuleRoot("-image-tar")
		if err != nil {
			return err
		}
		if p := filepath.Join(root, "_output", "images", "busybox.tar"); fileExists(p) {
			tar = p
			res.Setup.ImageSource = "_output/images/busybox.tar"
			break
		}
		goBin, err := benchutil.GoCommand("-image-tar")
		if err != nil {
			return err
		}
		tar = filepath.Join(c.dir, "busybox.tar")
		cmd := exec.CommandContext(ctx, goBin, "run", "./hack/testimage", "-o", tar)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go run ./hack/testimage (needs /bin/busybox: Debian's busybox-static): %w\n%s", err, out)
		}
		res.Setup.ImageSource = "written by hack/testimage (no _output/images/busybox.tar)"
	}
	cmd := exec.CommandContext(ctx, c.bin("shepherd-kubelet"), "--root-dir", c.kubeletRoot, "images", "import", tar)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("shepherd-kubelet images import %s: %w\n%s", tar, err, out)
	}
	// It prints "<tag> <id>" per image.
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == imageTag {
			res.Setup.ImageID = f[1]
		}
	}
	if res.Setup.ImageID == "" {
		return fmt.Errorf("shepherd-kubelet images import %s did not import %s:\n%s", tar, imageTag, out)
	}
	return nil
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

func (c *cluster) bin(name string) string { return filepath.Join(c.binDir, name) }

// startAPIServer starts the apiserver with its embedded etcd on free ports
// and waits for /readyz.
func (c *cluster) startAPIServer(ctx context.Context, res *results) error {
	ports, err := freePorts(3)
	if err != nil {
		return err
	}
	c.apiURL = "http://127.0.0.1:" + strconv.Itoa(ports[0])
	c.etcdURL = "http://127.0.0.1:" + strconv.Itoa(ports[1])
	p, err := benchutil.StartProc("apiserver", c.bin("shepherd-apiserver"), filepath.Join(c.logDir, "apiserver.log"),
		"--data-dir", c.apiDataDir,
		"--port", strconv.Itoa(ports[0]),
		"--etcd-listen-client-url", c.etcdURL,
		"--etcd-listen-peer-url", "http://127.0.0.1:"+strconv.Itoa(ports[2]))
	if err != nil {
		return err
	}
	c.api = p
	if err := c.waitHTTP(ctx, p, c.apiURL+"/readyz", time.Minute); err != nil {
		return err
	}
	res.Setup.APIReady = time.Since(p.Started)
	c.client, err = kubernetes.NewForConfig(&rest.Config{Host: c.apiURL, QPS: -1, Timeout: 30 * time.Second})
	return err
}

// startKubelet starts the kubelet on a free port and waits for its Node
// to be Ready.
func (c *cluster) startKubelet(ctx context.Context, res *results) error {
	ports, err := freePorts(1)
	if err != nil {
		return err
	}
	c.kubeletPort = ports[0]
	c.kubeletURL = "http://127.0.0.1:" + strconv.Itoa(c.kubeletPort)
	res.Setup.NodeReady, err = c.runKubelet(ctx)
	return err
}

// runKubelet starts the kubelet process and waits for its /healthz and
// for its Node to be Ready, which it returns the time to.
func (c *cluster) runKubelet(ctx context.Context) (time.Duration, error) {
	p, err := benchutil.StartProc("kubelet", c.bin("shepherd-kubelet"), filepath.Join(c.logDir, "kubelet.log"),
		"--etcd-servers", c.etcdURL,
		"--node-name", nodeName,
		"--root-dir", c.kubeletRoot,
		"--cgroup-root", c.cgroupRoot,
		"--node-ip", "127.0.0.1",
		"--address", "127.0.0.1",
		"--port", strconv.Itoa(c.kubeletPort))
	if err != nil {
		return 0, err
	}
	c.kubelet = p
	if err := c.waitHTTP(ctx, p, c.kubeletURL+"/healthz", time.Minute); err != nil {
		return 0, err
	}
	deadline := time.Now().Add(time.Minute)
	for {
		node, err := c.client.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
		if err == nil && nodeReady(node) {
			return time.Since(p.Started), nil
		}
		if err := p.AliveErr(); err != nil {
			return 0, err
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("node %s not Ready a minute after the kubelet started (last error: %v); kubelet log:\n%s", nodeName, err, p.LogTail(40))
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
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
			return fmt.Errorf("%s not answering %s after %v (%v); its log:\n%s", p.Name, url, timeout, err, p.LogTail(40))
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}

// freePorts asks the kernel for n free loopback ports. Another process
// could take one before the apiserver or kubelet listens; then that fails
// to start and the run says so.
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
