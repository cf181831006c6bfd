package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/shepherd-lab/shepherd/test/bench/internal/benchutil"
)

// schedProc is the scheduler under test: a separate process, so that its
// memory and CPU are its own.
type schedProc struct {
	cmd     *exec.Cmd
	url     string // http://127.0.0.1:<port>, serving /healthz and /metrics
	logPath string
	started time.Time
	exited  chan struct{} // closed when the process has exited
	waitErr error         // its exit status, once exited is closed
	http    *http.Client
}

// leaderMetric is the line /metrics shows once the scheduler leads.
const leaderMetric = `leader_election_master_status{name="kube-scheduler"} 1`

// startScheduler builds shepherd-scheduler (unless given a binary), starts
// it on the benchmark's etcd with leader election on, and waits until it
// leads: by then it has listed every node, lease and pod.
func (b *bench) startScheduler(ctx context.Context, res *results) error {
	bin := b.cfg.SchedulerBinary
	if bin == "" {
		begin := time.Now()
		var err error
		if bin, err = buildScheduler(ctx, b.dir); err != nil {
			return err
		}
		res.Start.Build = time.Since(begin)
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	p := &schedProc{
		url:     "http://127.0.0.1:" + strconv.Itoa(port),
		logPath: filepath.Join(b.dir, "scheduler.log"),
		exited:  make(chan struct{}),
		http:    &http.Client{Timeout: 5 * time.Second},
	}
	logFile, err := os.Create(p.logPath)
	if err != nil {
		return err
	}
	defer logFile.Close() // the child has its own descriptor
	p.cmd = exec.Command(bin,
		"--etcd-servers="+strings.Join(b.etcd.Endpoints(), ","),
		"--port="+strconv.Itoa(port),
		"--leader-elect=true")
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	p.cmd.SysProcAttr = childAttr()
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	b.sched = p
	go func() { p.waitErr = p.cmd.Wait(); close(p.exited) }()

	deadline := time.NewTimer(2 * time.Minute)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for res.Start.Leading == 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.exited:
			return fmt.Errorf("the scheduler exited before leading (%v); its log:\n%s", p.waitErr, p.logTail())
		case <-deadline.C:
			return fmt.Errorf("the scheduler did not lead within 2 minutes; its log:\n%s", p.logTail())
		case <-tick.C:
		}
		if res.Start.Healthy == 0 {
			if body, err := p.get(ctx, "/healthz"); err == nil && string(body) == "ok" {
				res.Start.Healthy = time.Since(p.started)
			}
			continue
		}
		if body, err := p.get(ctx, "/metrics"); err == nil && bytes.Contains(body, []byte(leaderMetric)) {
			res.Start.Leading = time.Since(p.started)
		}
	}
	res.Start.SyncedNodes, res.Start.SyncedPods, res.Start.Synced = p.cacheSync()
	return nil
}

// buildScheduler compiles ./cmd/shepherd-scheduler of the module this
// benchmark belongs to into dir.
func buildScheduler(ctx context.Context, dir string) (string, error) {
	root, err := benchutil.ModuleRoot("-scheduler-binary")
	if err != nil {
		return "", err
	}
	goBin, err := benchutil.GoCommand("-scheduler-binary")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "shepherd-scheduler")
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", bin, "./cmd/shepherd-scheduler")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/shepherd-scheduler: %w\n%s", err, out)
	}
	return bin, nil
}

// freePort asks the kernel for a free loopback port. Another process could
// take it before the scheduler listens; then the scheduler fails to start
// and the run says so.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func (p *schedProc) get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return body, err
}

// stopScheduler records the scheduler's memory, then stops it with SIGTERM
// (it resigns its lease) and waits for it to exit.
func (b *bench) stopScheduler(res *results) {
	p := b.sched
	if p == nil {
		return
	}
	res.Sched.PeakRSS, res.Sched.RSS = procMemory(p.cmd.Process.Pid)
	if cpu, err := procCPU(p.cmd.Process.Pid); err == nil {
		res.Sched.CPUTotal = cpu
	}
	p.kill()
	res.Sched.LogLines, res.Sched.Warnings = p.logWarnings()
}

// kill ends the scheduler: SIGTERM, then SIGKILL if it has not exited
// within 10 s. It returns at once if the process has already exited.
func (p *schedProc) kill() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// logTail returns the end of the scheduler's log, for error messages.
func (p *schedProc) logTail() string {
	data, _ := os.ReadFile(p.logPath)
	const max = 4000
	if len(data) > max {
		data = data[len(data)-max:]
	}
	return string(data)
}

var (
	logLevel   = regexp.MustCompile(`\blevel=(WARN|ERROR)\b`)
	logMessage = regexp.MustCompile(`\bmsg=("(?:[^"\\]|\\.)*"|\S+)`)
	logTime    = regexp.MustCompile(`^time=(\S+)`)
	logInt     = func(key string) *regexp.Regexp { return regexp.MustCompile(`\b` + key + `=(\d+)`) }
	logNodes   = logInt("nodes")
	logPods    = logInt("boundPods")
)

// cacheSync reads the scheduler's "caches synced" log line: how many nodes
// and bound pods it listed, and when, from its start. -1 and 0 when the
// line is not there.
func (p *schedProc) cacheSync() (nodes, pods int, after time.Duration) {
	nodes, pods = -1, -1
	f, err := os.Open(p.logPath)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, `msg="caches synced"`) {
			continue
		}
		if m := logNodes.FindStringSubmatch(line); m != nil {
			nodes, _ = strconv.Atoi(m[1])
		}
		if m := logPods.FindStringSubmatch(line); m != nil {
			pods, _ = strconv.Atoi(m[1])
		}
		if m := logTime.FindStringSubmatch(line); m != nil {
			if t, err := time.Parse(time.RFC3339Nano, m[1]); err == nil {
				after = t.Sub(p.started)
			}
		}
		break
	}
	return
}

// logWarnings counts the scheduler's log lines and its warnings and errors
// by message.
func (p *schedProc) logWarnings() (lines int, out []warningCount) {
	f, err := os.Open(p.logPath)
	if err != nil {
		return 0, nil
	}
	defer f.Close()
	idx := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines++
		line := sc.Text()
		lv := logLevel.FindStringSubmatch(line)
		if lv == nil {
			continue
		}
		msg := line
		if m := logMessage.FindStringSubmatch(line); m != nil {
			msg = m[1]
			if s, err := strconv.Unquote(msg); err == nil {
				msg = s
			}
		}
		msg = lv[1] + " " + msg
		if i, ok := idx[msg]; ok {
			out[i].Count++
			continue
		}
		idx[msg] = len(out)
		out = append(out, warningCount{Message: msg, Count: 1, Example: line})
	}
	return lines, out
}

type warningCount struct {
	Message string
	Count   int
	Example string // the first line with it
}

// metricsText is a scrape of /metrics in Prometheus' text format.
type metricsText []byte

// sum adds the values of every sample of the named metric whose labels
// include all of want (given as `name="value"` strings).
func (m metricsText) sum(name string, want ...string) (float64, bool) {
	var total float64
	found := false
	for _, line := range strings.Split(string(m), "\n") {
		if line == "" || line[0] == '#' || !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		var labels string
		switch {
		case strings.HasPrefix(rest, "{"):
			end := strings.LastIndexByte(rest, '}')
			if end < 0 {
				continue
			}
			labels, rest = rest[1:end], rest[end+1:]
		case strings.HasPrefix(rest, " "):
		default:
			continue // a longer metric name
		}
		ok := true
		for _, w := range want {
			if !strings.Contains(","+labels+",", ","+w+",") {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		total += v
		found = true
	}
	return total, found
}
